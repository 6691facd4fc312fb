/**
 * Process hardening for a mount that holds keys: no core dumps (RLIMIT_CORE 0) and not
 * dumpable (PR_SET_DUMPABLE 0: no core file, and other processes of the same user can neither
 * ptrace it nor read its /proc/<pid>/mem). Best effort: returns what could not be applied.
 */
const PR_SET_DUMPABLE = 4;
const RLIMIT_CORE = 4;

/** Applies the hardening; returns the names of the steps that failed (empty when all held). */
export function hardenProcess(): string[] {
  const failed: string[] = [];
  let lib;
  try {
    lib = Deno.dlopen("libc.so.6", {
      prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
      setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
    });
  } catch {
    return ["ffi"];
  }
  try {
    if (lib.symbols.setrlimit(RLIMIT_CORE, new BigUint64Array([0n, 0n])) !== 0) {
      failed.push("RLIMIT_CORE");
    }
    if (lib.symbols.prctl(PR_SET_DUMPABLE, 0n, 0n, 0n, 0n) !== 0) failed.push("PR_SET_DUMPABLE");
  } finally {
    lib.close();
  }
  return failed;
}
