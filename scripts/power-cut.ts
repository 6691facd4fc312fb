/**
 * Round runner behind scripts/power-cut: runs crash series (tests/helpers/power_cut.ts) of
 * `--per-image` rounds each on fresh images until `--rounds` rounds per mode, and summarises
 * the violations by mode and kind, with an example of each.
 */
import { parseArgs } from "node:util";
import {
  crashSeries,
  crashSkipReason,
  describeRound,
  type RoundResult,
} from "../tests/helpers/power_cut.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "30" },
    mode: { type: "string", default: "both" },
    seed: { type: "string" },
    "per-image": { type: "string", default: "10" },
    verbose: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    direct: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(`Usage: scripts/power-cut [options]   (root; loop-mounted ext4 images)
  --rounds N      rounds per mode (30)
  --mode M        power (ext4 shutdown ioctl, then journal replay), kill (kill -9), or both (both)
  --seed S        seed of the workloads (random by default; printed)
  --per-image N   rounds on one image before a fresh one (10)
  --verbose       describe every round
  --keep          keep the images and data dirs of failed rounds
  --direct        the workload writes with O_DIRECT`);
  Deno.exit(0);
}
/** A violation's kind, refined by what was claimed and by which fsync (for the summary). */
function classify(kind: string, detail: string): string {
  if (kind === "torn") {
    const fresh = /states it had: absent;/.test(detail) ? ", new file" : "";
    const len = /the length of one of them/.test(detail)
      ? ", length of a state it had"
      : ", length of no state";
    return `torn${fresh}${len}`;
  }
  if (kind !== "lost") return kind;
  const what = /^is absent.*: directory\)/.test(detail)
    ? "directory gone"
    : /^is absent/.test(detail)
    ? "file gone"
    : /^is file.*: absent\)/.test(detail)
    ? "removed or renamed-away name back"
    : /^is file/.test(detail)
    ? "fsynced content differs"
    : "other";
  const by = /claimed by #\d+ (fsync dir|fsync) /.exec(detail);
  const basis = by ? (by[1] === "fsync" ? "a file's fsync" : "a directory's fsync") : "?";
  return `lost, ${what}, claimed by ${basis}`;
}

const skip = await crashSkipReason();
if (skip) {
  console.error(`power-cut: cannot run here: ${skip}`);
  Deno.exit(1);
}
const rounds = Number(values.rounds);
const perImage = Number(values["per-image"]);
const seed = values.seed !== undefined
  ? Number(values.seed) >>> 0
  : crypto.getRandomValues(new Uint32Array(1))[0];
const modes = values.mode === "both"
  ? ["power", "kill"] as const
  : [values.mode as "power" | "kill"];
console.log(`seed ${seed}, ${rounds} rounds per mode, ${perImage} rounds per image`);

for (const mode of modes) {
  const results: RoundResult[] = [];
  let seriesFailed = 0;
  let removeFailed = 0;
  const t0 = Date.now();
  for (let series = 0; results.length < rounds; series++) {
    const n = Math.min(perImage, rounds - results.length);
    const seriesSeed = (seed + series * 7919) >>> 0;
    try {
      const s = await crashSeries({
        mode,
        rounds: n,
        seed: seriesSeed,
        keepImages: values.keep,
        direct: values.direct,
        onRound: (r) => {
          const bad = r.openError || r.violations.length || r.damaged.length;
          if (bad || values.verbose) {
            console.log(`[${mode} series ${series} seed ${seriesSeed}] ${describeRound(r, 8)}`);
          }
          if (values.verbose && r.kernel) {
            console.log(r.kernel.map((l) => `  kernel: ${l}`).join("\n"));
          }
        },
      });
      results.push(...s.rounds);
      if (s.removeError) {
        removeFailed++;
        console.log(`[${mode} series ${series} seed ${seriesSeed}] ${s.removeError}`);
      }
      if (s.rounds.length < n) {
        console.log(`series ${series} stopped after ${s.rounds.length} rounds`);
      }
    } catch (e) {
      console.log(`[${mode} series ${series} seed ${seriesSeed}] series failed: ${e}`);
      seriesFailed++;
      if (seriesFailed > 3) break;
    }
  }
  const count = (f: (r: RoundResult) => boolean) => results.filter(f).length;
  const kinds = new Map<string, { rounds: number; total: number; example: string }>();
  for (const r of results) {
    const seen = new Set<string>();
    const add = (k: string, example: string) => {
      const e = kinds.get(k) ?? { rounds: 0, total: 0, example };
      e.total++;
      if (!seen.has(k)) e.rounds++;
      seen.add(k);
      kinds.set(k, e);
    };
    if (r.openError) add("no-open", r.openError.split("\n")[0]);
    for (const v of r.violations) add(classify(v.kind, v.detail), `${v.path}: ${v.detail}`);
    for (const d of r.damaged) add("damaged-log", d);
  }
  console.log(
    `\n== ${mode}: ${results.length} rounds in ${Math.round((Date.now() - t0) / 1000)} s, ` +
      `${count((r) => !!r.openError || r.violations.length > 0 || r.damaged.length > 0)} failed; ` +
      `mean ${Math.round(results.reduce((s, r) => s + r.ops, 0) / (results.length || 1))} ops, ` +
      `${
        Math.round(results.reduce((s, r) => s + r.syncs, 0) / (results.length || 1))
      } fsyncs per round; ${
        results.reduce((s, r) => s + r.olderChunks, 0)
      } chunks read as their previous version (torn rewrites) in ${
        count((r) => r.olderChunks > 0)
      } rounds`,
  );
  for (const [k, e] of kinds) {
    console.log(`  ${k}: in ${e.rounds} rounds (${e.total} in all), e.g. ${e.example}`);
  }
}
