/**
 * Which requests ask this filesystem to clear set-ID bits, once the kernel left that to it
 * (FUSE_HANDLE_KILLPRIV_V2, see init_reply.ts). The kernel marks a WRITE, and an OPEN with
 * O_TRUNC, whose caller lacks CAP_FSETID; libfuse 3.14 does not pass these flags on, so they
 * are read from the request itself. A SETATTR carries `FUSE_SET_ATTR_KILL_SUID` instead (for a
 * truncation without CAP_FSETID and for every change of owner), which libfuse passes on.
 *
 * @module
 */

// fuse_in_header is 40 bytes; fuse_write_in.write_flags and fuse_open_in.open_flags follow it.
const WRITE_FLAGS = 40 + 20;
const OPEN_FLAGS = 40 + 4;
const FUSE_WRITE_KILL_SUIDGID = 1 << 2;
const FUSE_OPEN_KILL_SUIDGID = 1 << 0;

/** Whether the WRITE request `req` asks for set-ID bits to be cleared. */
export function writeClearsSetIds(req: Deno.UnsafePointerView | null): boolean {
  return req !== null && (req.getUint32(WRITE_FLAGS) & FUSE_WRITE_KILL_SUIDGID) !== 0;
}

/** Whether the OPEN request `req` asks for set-ID bits to be cleared (with O_TRUNC). */
export function openClearsSetIds(req: Deno.UnsafePointerView | null): boolean {
  return req !== null && (req.getUint32(OPEN_FLAGS) & FUSE_OPEN_KILL_SUIDGID) !== 0;
}
