/**
 * Process hardening for a mount that holds keys: no core dumps (RLIMIT_CORE 0) and not
 * dumpable (PR_SET_DUMPABLE 0: no core file, and other processes of the same user can neither
 * ptrace it nor read its /proc/<pid>/mem). Best effort: returns what could not be applied.
 */
import { libcIfAvailable } from "./libc.ts";

const PR_SET_DUMPABLE = 4;
const RLIMIT_CORE = 4;

/** Applies the hardening; returns the names of the steps that failed (empty when all held). */
export function hardenProcess(): string[] {
  const c = libcIfAvailable();
  if (!c) return ["ffi"];
  const failed: string[] = [];
  if (c.setrlimit(RLIMIT_CORE, new BigUint64Array([0n, 0n])) !== 0) failed.push("RLIMIT_CORE");
  if (c.prctl(PR_SET_DUMPABLE, 0n, 0n, 0n, 0n) !== 0) failed.push("PR_SET_DUMPABLE");
  return failed;
}
