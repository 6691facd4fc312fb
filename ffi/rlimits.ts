/**
 * Resource limits of the process that matter to a mount (getrlimit/setrlimit).
 *
 * - Open files: a mount holds a descriptor for every file open through it, and opens one for
 *   each lookup, listing and record write: with a limit of 1,024 (`ulimit -n`) about a thousand
 *   open files exhaust it, and every lookup then fails. The soft limit is raised to the hard one
 *   (Deno's runtime does so at startup too; the mount does not depend on it).
 * - File size (`ulimit -f`): growing a file past it raises SIGXFSZ, which ends the process; the
 *   store never grows one past it (src/store/backing_limit.ts).
 */
import { libcIfAvailable } from "./libc.ts";

const RLIMIT_FSIZE = 1;
const RLIMIT_NOFILE = 7;
const RLIM_INFINITY = 0xffffffffffffffffn;

// [soft, hard] of `resource` (RLIM_INFINITY as is), or null without FFI or on failure.
function limits(resource: number): BigUint64Array | null {
  const c = libcIfAvailable();
  const lim = new BigUint64Array(2);
  return c && c.getrlimit(resource, lim) === 0 ? lim : null;
}

/** The open-file limits after raising the soft one to the hard one; null without FFI. */
export function raiseOpenFileLimit(): { soft: number; hard: number } | null {
  const lim = limits(RLIMIT_NOFILE);
  if (!lim) return null;
  if (lim[0] < lim[1]) {
    const raised = new BigUint64Array([lim[1], lim[1]]);
    if (libcIfAvailable()!.setrlimit(RLIMIT_NOFILE, raised) === 0) lim[0] = lim[1];
  }
  return { soft: Number(lim[0]), hard: Number(lim[1]) };
}

/** The soft file size limit (`ulimit -f`) in bytes: Infinity when unlimited or unknown. */
export function fileSizeLimit(): number {
  const lim = limits(RLIMIT_FSIZE);
  return !lim || lim[0] === RLIM_INFINITY ? Infinity : Number(lim[0]);
}
