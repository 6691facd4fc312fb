/**
 * The kernel's INIT request, answered by libfuse with flags added that libfuse 3.14 does not
 * know. libfuse builds the reply from the capabilities it has names for and writes it to
 * /dev/fuse inside `fuse_session_process_buf`; here that one write is captured
 * (`ffi/fd_capture.ts`), the extra flags the kernel offered are set in it, and it is sent.
 *
 * The flag asked for is `FUSE_HANDLE_KILLPRIV_V2` (protocol 7.33): the kernel then leaves the
 * clearing of set-user-ID and set-group-ID bits to the filesystem (on WRITE, SETATTR and OPEN
 * with O_TRUNC, each marked by the kernel when the caller lacks CAP_FSETID) and marks the
 * superblock `SB_NOSEC`. Without it, every write(2) first asks the filesystem for the file's
 * `security.capability` attribute (a GETXATTR round trip); with it, the kernel asks once per
 * inode and remembers the answer (`S_NOSEC`) until a `security.*` attribute or a set-ID mode
 * is set through it. `security.capability` itself is still removed by the kernel.
 *
 * @module
 */

import { captureWrites, writeOnce } from "../../ffi/fd_capture.ts";

/** FUSE_INIT's opcode. */
const FUSE_INIT = 26;

/** Kernel INIT flags (`fuse_init_in.flags` / `fuse_init_out.flags`) used here. */
export const InitFlag = {
  HANDLE_KILLPRIV_V2: 1 << 28,
} as const;

// Offsets in the request (fuse_in_header, then fuse_init_in) and in the reply (fuse_out_header,
// then fuse_init_out).
const IN_OPCODE = 4;
const IN_FLAGS = 40 + 12;
const OUT_ERROR = 4;
const OUT_FLAGS = 16 + 12;

/** Whether the request `req` is INIT. */
export function isInit(req: Deno.UnsafePointerView): boolean {
  return req.getUint32(IN_OPCODE) === FUSE_INIT;
}

/**
 * Answers the INIT request `req` on `/dev/fuse` descriptor `fd`: `process` (libfuse) builds
 * the reply, and the flags of `extra` that the kernel offered are added to it. Returns the flags
 * added (0 when libfuse refused the session or the capture could not be set up, in which case
 * libfuse's reply went out as it was).
 */
export function answerInit(
  fd: number,
  req: Deno.UnsafePointerView,
  extra: number,
  process: () => void,
): number {
  const offered = req.getUint32(IN_FLAGS) & extra;
  if (offered === 0) {
    process();
    return 0;
  }
  let reply: Uint8Array<ArrayBuffer>;
  try {
    reply = captureWrites(fd, process);
  } catch {
    process(); // the capture could not be set up, so libfuse has not run yet
    return 0;
  }
  const v = new DataView(reply.buffer, reply.byteOffset, reply.length);
  const ok = reply.length >= OUT_FLAGS + 4 && v.getInt32(OUT_ERROR, true) === 0;
  if (ok) v.setUint32(OUT_FLAGS, (v.getUint32(OUT_FLAGS, true) | offered) >>> 0, true);
  const sent = writeOnce(fd, reply);
  return ok && sent === reply.length ? offered : 0;
}
