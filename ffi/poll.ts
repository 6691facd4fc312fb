/**
 * Waiting for one descriptor to be readable, on this thread or off it, and the descriptor flags
 * and C memory the FUSE loop needs (`src/fuse/session.ts`).
 *
 * @module
 */

import { libc } from "./libc.ts";
import { PollFd } from "./layouts.ts";

/** A `struct pollfd` asking for POLLIN on `fd`; the memory a {@link pollIn} call reads. */
export function pollFd(fd: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(PollFd.size);
  const v = new DataView(b.buffer);
  v.setInt32(PollFd.fd, fd, true);
  v.setInt16(PollFd.events, 1, /* POLLIN */ true);
  return b;
}

/**
 * poll(2) of one {@link pollFd} on this thread, for up to `timeoutMs` (0: just look): > 0 when
 * it is readable (or in error), 0 on timeout, < 0 on failure.
 */
export function pollIn(pfd: Uint8Array<ArrayBuffer>, timeoutMs: number): number {
  return libc().poll(pfd, 1n, timeoutMs);
}

/**
 * {@link pollIn} on a pool thread, so the event loop keeps turning while it waits; `pfd` must not
 * be used by anything else until it resolves.
 */
export async function pollInOffThread(
  pfd: Uint8Array<ArrayBuffer>,
  timeoutMs: number,
): Promise<number> {
  return await libc().poll_nb(pfd, 1n, timeoutMs);
}

/** Sets O_NONBLOCK on `fd`; false when fcntl failed. */
export function setNonblocking(fd: number): boolean {
  const c = libc();
  const fl = c.fcntl(fd, 3, /* F_GETFL */ 0);
  return fl >= 0 && c.fcntl(fd, 4, /* F_SETFL */ fl | 0o4000 /* O_NONBLOCK */) >= 0;
}

/** free(3) of memory a C library allocated (`address` 0 is ignored). */
export function freeC(address: bigint): void {
  if (address !== 0n) libc().free(Deno.UnsafePointer.create(address));
}
