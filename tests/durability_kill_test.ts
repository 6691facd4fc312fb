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
import {
  crashSeries,
  crashSkipReason,
  describeRound,
  roundsFromEnv,
  seedFromEnv,
} from "./helpers/power_cut.ts";

const skip = await crashSkipReason();
if (skip) console.warn(`kill tests skipped: ${skip}`);

Deno.test({
  name: "after kill -9 of the daemon the data dir opens, reads without EIO and keeps every fsync",
  ignore: skip !== undefined,
  fn: async () => {
    const seed = seedFromEnv();
    const series = await crashSeries({
      mode: "kill",
      rounds: roundsFromEnv(8),
      seed,
      stopOnFailure: true,
      keepImages: Deno.env.get("RENCFS_KEEP_CRASH_IMAGES") === "1",
    });
    const bad = series.rounds.filter((r) =>
      r.openError || r.violations.length > 0 || r.damaged.length > 0
    );
    if (bad.length === 0 && series.removeError) {
      throw new Error(`after the rounds (series seed ${seed}): ${series.removeError}`);
    }
    if (bad.length > 0) {
      throw new Error(
        `kill -9 broke the durability contract (series seed ${seed}):\n` +
          bad.map((r) => describeRound(r)).join("\n") +
          (series.keptIn ? `\nimage and journals kept in ${series.keptIn}` : ""),
      );
    }
  },
});
