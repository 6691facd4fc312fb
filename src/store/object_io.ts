/**
 * Reading objects of a data dir that an attacker may have planted things in: never follow a
 * symlink, never block on a FIFO or device, never read more than an object can legitimately be.
 *
 * Small objects (records, entries: a few hundred bytes, page-cached) are read and written
 * with synchronous syscalls: each costs a few microseconds, while an async file operation in
 * Deno costs 30–100 µs of thread hand-off, which would dominate every metadata operation.
 * Content chunks and every fsync stay asynchronous.
 */
import { constants } from "node:fs";
import { closeSync, fstatSync, lstatSync, openSync, readSync, writeSync } from "node:fs";

/** Thrown for an object that is not a plain file of a plausible size. */
export class NotAnObjectError extends Error {}

/** Flags for opening an object: no symlink following, no blocking open of a FIFO. */
export const SAFE_OPEN = constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The bytes of a small object; null when it does not exist. */
export function readObject(path: string, maxBytes: number): Promise<Uint8Array | null> {
  try {
    return Promise.resolve(readHead(path, (head, size) => {
      if (head.length < scratch.length) return head.length; // all of it, in one read
      const n = size();
      if (n > maxBytes) throw new NotAnObjectError(`${path} is too large (${n} bytes)`);
      return n;
    }));
  } catch (e) {
    return Promise.reject(e);
  }
}

// Most objects are a few hundred bytes: one read into this buffer, no fstat, tells the size.
const scratch = new Uint8Array(64 * 1024);

/**
 * The first bytes of an object, as many as `want(head, size)` says from what one read of up to
 * 64 KiB returned (`size()` fstats the file when that is not enough); null when it does not
 * exist. A FIFO opened O_NONBLOCK reads as empty and a directory fails to read: neither ever
 * passes for an object.
 */
export function readHead(
  path: string,
  want: (head: Uint8Array, size: () => number) => number,
): Uint8Array | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | SAFE_OPEN);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT") return null;
    if (code === "ELOOP") throw new NotAnObjectError(`${path} is a symlink, not an object`);
    throw e;
  }
  try {
    let n: number;
    try {
      n = readSync(fd, scratch, 0, scratch.length, 0);
    } catch (e) {
      throw new NotAnObjectError(`${path} cannot be read as an object: ${(e as Error).message}`);
    }
    const size = () => {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new NotAnObjectError(`${path} is not a regular file`);
      return st.size;
    };
    const need = want(scratch.subarray(0, n), size);
    if (need <= n) return scratch.slice(0, need);
    if (n < scratch.length) return scratch.slice(0, n); // the file is shorter than wanted
    size(); // a device can fill any read: only a regular file may be read further
    const buf = new Uint8Array(need);
    let got = 0;
    while (got < need) {
      const r = readSync(fd, buf, got, need - got, got);
      if (r === 0) break;
      got += r;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Writes all of `data` at byte `pos` of `fd` (short writes continue). */
export function writeAllSync(fd: number, data: Uint8Array, pos: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, pos + done);
}

/**
 * Remembers which folders of a data dir were checked to be real directories (not symlinks
 * planted to redirect writes elsewhere), so each is checked once per session.
 */
export class FolderGuard {
  readonly #ok = new Set<string>();

  /** Resolves when `path` is a real directory; false if missing; throws if anything else. */
  check(path: string): Promise<boolean> {
    try {
      return Promise.resolve(this.#check(path));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #check(path: string): boolean {
    if (this.#ok.has(path)) return true;
    let st;
    try {
      st = lstatSync(path);
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return false;
      throw e;
    }
    if (!st.isDirectory()) throw new NotAnObjectError(`${path} is not a real directory`);
    if (this.#ok.size > 100_000) this.#ok.clear();
    this.#ok.add(path);
    return true;
  }

  /** Forgets a folder that was removed. */
  forget(path: string): void {
    this.#ok.delete(path);
  }
}
