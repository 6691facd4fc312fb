/**
 * Capturing what a C library writes to a descriptor during one synchronous call (the descriptor
 * number is pointed at a pipe for the call's duration, then restored), and writing it on. Used
 * once per mount, for libfuse's reply to the kernel's INIT request (`src/fuse/init_reply.ts`).
 *
 * @module
 */

import { lastError, libc } from "./libc.ts";

const F_GETFD = 1;
const F_DUPFD_CLOEXEC = 1030;
const FD_CLOEXEC = 1;
const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
/** A pipe holds this much without a reader (Linux default), far above an INIT reply. */
const PIPE_BYTES = 64 * 1024;

/**
 * Runs `call` while everything written to `fd` goes into a pipe instead, and returns the bytes
 * written (up to 64 KiB). `fd` is the same open file again afterwards, its close-on-exec flag
 * kept. Throws a SysError when the descriptors cannot be set up; `call` has then not run.
 */
export function captureWrites(fd: number, call: () => void): Uint8Array<ArrayBuffer> {
  const c = libc();
  const fds = new Int32Array(2);
  if (c.pipe2(new Uint8Array(fds.buffer), O_CLOEXEC | O_NONBLOCK) !== 0) throw lastError("pipe2");
  const [readEnd, writeEnd] = fds;
  let writeOpen = true;
  const fdFlags = c.fcntl(fd, F_GETFD, 0);
  const saved = fdFlags < 0 ? -1 : c.fcntl(fd, F_DUPFD_CLOEXEC, 0);
  try {
    if (saved < 0 || c.dup3(writeEnd, fd, O_CLOEXEC) < 0) throw lastError("dup3");
    let failure: { error: unknown } | null = null;
    try {
      call();
    } catch (e) {
      failure = { error: e };
    }
    // The descriptor number must be the original open file again, whatever happened.
    if (c.dup3(saved, fd, fdFlags & FD_CLOEXEC ? O_CLOEXEC : 0) < 0) throw lastError("dup3");
    if (failure) throw failure.error;
    c.close(writeEnd);
    writeOpen = false;
    const out = new Uint8Array(PIPE_BYTES);
    const n = Number(c.read(readEnd, out, BigInt(out.length)));
    return out.subarray(0, Math.max(0, n));
  } finally {
    if (saved >= 0) c.close(saved);
    if (writeOpen) c.close(writeEnd);
    c.close(readEnd);
  }
}

/** One write(2) of `bytes` to `fd`: the count written, or -1 on failure. */
export function writeOnce(fd: number, bytes: Uint8Array<ArrayBuffer>): number {
  return Number(libc().write(fd, bytes, BigInt(bytes.length)));
}
