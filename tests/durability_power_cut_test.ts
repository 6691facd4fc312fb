/**
 * Durability across power cuts (issue #10): a workload writes through a rencfs mount whose data
 * dir lives on its own ext4 image; the image is shut down as a power cut would (uncommitted
 * journal dropped), everything is killed, the image and rencfs are mounted again, and then the
 * data dir must open, every directory list, nothing read an error, and everything an fsync
 * acknowledged be there. See tests/helpers/power_cut.ts. Needs root, loop devices, mkfs.ext4
 * and FUSE; RENCFS_CRASH_ROUNDS and RENCFS_CRASH_SEED override rounds and seed,
 * RENCFS_KEEP_CRASH_IMAGES=1 keeps the image of a failed run.
 */
import { assertCrashSeries, crashSkipReason } from "./helpers/power_cut.ts";
import { skipUnlessRequired } from "./helpers/required.ts";

const skip = await crashSkipReason();
// Needs FUSE and loop devices: where CI has both, a skip fails instead.
const ignore = skipUnlessRequired("power-cut tests", skip, ["fuse", "loop"]);

Deno.test({
  name: "after power cuts the data dir opens, lists, reads without EIO and keeps every fsync",
  ignore,
  fn: () => assertCrashSeries("power", "power cut"),
});
