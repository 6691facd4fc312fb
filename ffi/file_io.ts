/**
 * Whole-buffer `pread`/`pwrite` off the calling thread, for the chunk workers: each call runs on
 * the runtime's blocking pool, so a worker keeps several in flight. A failed call is repeated
 * synchronously on the calling thread to learn its errno (the pool thread's errno is out of
 * reach); disk-full and I/O errors repeat.
 *
 * @module
 */

import { lastError, libc } from "./libc.ts";
import { SysError } from "./sys_error.ts";

const ENOSPC = 28;

/** Writes all of `buf` at byte `pos` of `fd`; throws {@link SysError} (ENOSPC when no progress). */
export async function pwriteAll(
  fd: number,
  buf: Uint8Array<ArrayBuffer>,
  pos: number,
): Promise<void> {
  const lib = libc();
  let done = 0;
  while (done < buf.length) {
    const part = buf.subarray(done);
    const n = Number(await lib.pwrite_nb(fd, part, BigInt(part.length), BigInt(pos + done)));
    if (n > 0) {
      done += n;
      continue;
    }
    const again = Number(lib.pwrite(fd, part, BigInt(part.length), BigInt(pos + done)));
    if (again > 0) done += again;
    else if (again === 0) throw new SysError(ENOSPC, "pwrite");
    else throw lastError("pwrite");
  }
}

/** Reads into `buf` from byte `pos` of `fd` until it is full or the file ends; the bytes read. */
export async function preadAll(
  fd: number,
  buf: Uint8Array<ArrayBuffer>,
  pos: number,
): Promise<number> {
  const lib = libc();
  let done = 0;
  while (done < buf.length) {
    const part = buf.subarray(done);
    let n = Number(await lib.pread_nb(fd, part, BigInt(part.length), BigInt(pos + done)));
    if (n < 0) n = Number(lib.pread(fd, part, BigInt(part.length), BigInt(pos + done)));
    if (n < 0) throw lastError("pread");
    if (n === 0) break; // end of file
    done += n;
  }
  return done;
}
