/**
 * The open-file limit of the serving process. A mount holds a descriptor for every file open
 * through it, and opens one for each lookup, listing and record write: with a limit of 1,024
 * (`ulimit -n`) about a thousand open files exhaust it, and every lookup then fails. The soft
 * limit is raised to the hard one (Deno's runtime does so at startup too; the mount does not
 * depend on it), and the mount warns when even the hard limit is low.
 */
import { libcIfAvailable } from "./libc.ts";

const RLIMIT_NOFILE = 7;

/** The open-file limits after raising the soft one to the hard one; null without FFI. */
export function raiseOpenFileLimit(): { soft: number; hard: number } | null {
  const c = libcIfAvailable();
  if (!c) return null;
  const lim = new BigUint64Array(2);
  if (c.getrlimit(RLIMIT_NOFILE, lim) !== 0) return null;
  if (lim[0] < lim[1]) {
    const raised = new BigUint64Array([lim[1], lim[1]]);
    if (c.setrlimit(RLIMIT_NOFILE, raised) === 0) lim[0] = lim[1];
  }
  return { soft: Number(lim[0]), hard: Number(lim[1]) };
}
