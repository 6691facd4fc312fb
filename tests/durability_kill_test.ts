/**
 * Durability across kill -9 of the rencfs daemon (issue #10): a workload writes through a
 * rencfs mount, the daemon is killed (ext4 keeps whatever it had written), rencfs is mounted
 * again, and then the data dir must open, every directory list, nothing read an error and every
 * fsync hold. A file changed since its last fsync may show any content: the daemon's records of
 * the last few seconds (sizes among them) die with it (docs/format.md, "Crash consistency"). See
 * tests/helpers/power_cut.ts. Needs root, loop devices, mkfs.ext4 and FUSE; RENCFS_CRASH_ROUNDS
 * and RENCFS_CRASH_SEED override rounds and seed, RENCFS_KEEP_CRASH_IMAGES=1 keeps the image of
 * a failed run.
 */
import { assertCrashSeries, crashSkipReason } from "./helpers/power_cut.ts";
import { skipUnlessRequired } from "./helpers/required.ts";

const skip = await crashSkipReason();
// Needs FUSE and loop devices: where CI has both, a skip fails instead.
const ignore = skipUnlessRequired("kill tests", skip, ["fuse", "loop"]);

Deno.test({
  name: "after kill -9 of the daemon the data dir opens, reads without EIO and keeps every fsync",
  ignore,
  fn: () => assertCrashSeries("kill", "kill -9"),
});
