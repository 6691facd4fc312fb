/**
 * Crash rounds for the durability tests (issue #10): a rencfs data dir on its own ext4 image
 * (loop device), mounted by the CLI daemon, a workload child process (crash_workload.ts) writing
 * through the mount, then either a power cut (EXT4_IOC_SHUTDOWN without log flush, then kill -9
 * of everything, ext4 remounted: its journal replays) or a kill -9 of the daemon alone. rencfs is
 * mounted again and the whole tree is read and checked against the workload's journal
 * (crash_verify.ts).
 */
import { fileURLToPath } from "node:url";
import { rencfs } from "../cli_helpers.ts";
import {
  type CrashMode,
  parseJournal,
  verifyRound,
  verifyUnchanged,
  type Violation,
} from "./crash_verify.ts";
import type { WalkState } from "./crash_journal.ts";
import {
  Daemon,
  detachFuse,
  dmesgNow,
  dmesgTail,
  ext4Shutdown,
  must,
  outputWithin,
  PASSWORD,
  removeAll,
  run,
  sleep,
  superblockGone,
  unmountExt4,
} from "./crash_system.ts";
import { prng } from "./prng.ts";

export type { CrashMode, Violation };
export { crashSkipReason, ext4Shutdown } from "./crash_system.ts";

const WORKLOAD = fileURLToPath(new URL("./crash_workload.ts", import.meta.url));

/** Options of a series of crash rounds on one image. */
export interface CrashOptions {
  mode: CrashMode;
  rounds: number;
  /** Seed of the first round's workload; round k uses a seed derived from it. */
  seed: number;
  /** Smallest and largest delay between the workload's start and the crash. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Keep the image and journals (in `keepDir`'s temp dir) when a round fails. */
  keepImages?: boolean;
  /** Called after each round (progress for the round-runner script). */
  onRound?: (r: RoundResult) => void;
  /** Stop at the first round with violations (the tests do; the script counts all). */
  stopOnFailure?: boolean;
  /**
   * Calibration (power mode only): the workload runs on the ext4 image itself, without rencfs.
   * ext4 keeps the contract, so any violation then is a bug of the test, not of the store.
   */
  direct?: boolean;
}

/** What one round did and found. */
export interface RoundResult {
  round: number;
  seed: number;
  mode: CrashMode;
  delayMs: number;
  /** Journal lines: operations started and durability points acknowledged before the crash. */
  ops: number;
  syncs: number;
  /** The workload's last line when it did not die by the crash (error or end). */
  workloadEnd?: string;
  /** Data dir could not be mounted after the crash (then nothing else was checked). */
  openError?: string;
  violations: Violation[];
  /** "damaged object" lines the daemon logged after the crash. */
  damaged: string[];
  /** Chunks read as their previous version after the crash (torn rewrites, format 3). */
  olderChunks: number;
  /** Kernel messages of the remount (power rounds). */
  kernel?: string[];
  ms: number;
}

/** Result of a series: its rounds, and where the image was kept (when kept). */
export interface CrashSeries {
  rounds: RoundResult[];
  /** Why removing every round's tree after the rounds failed (`rm -rf`, then the root empty). */
  removeError?: string;
  keptIn?: string;
}

/** Seed of round `k` of a series seeded with `seed`. */
export function roundSeed(seed: number, k: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(k + 1, 0xc2b2ae35)) >>> 0;
}

/**
 * Runs `opts.rounds` crash rounds on a fresh ext4 image and rencfs data dir, always cleaning up
 * (daemon and workload killed, FUSE and ext4 unmounted, loop device detached, image removed
 * unless kept after a failure).
 */
export async function crashSeries(opts: CrashOptions): Promise<CrashSeries> {
  const tmp = await Deno.makeTempDir({ prefix: `rencfs-crash-${opts.mode}-` });
  const img = `${tmp}/ext4.img`;
  const ext4 = `${tmp}/ext4`;
  const direct = opts.direct === true && opts.mode === "power";
  const fuse = direct ? `${ext4}/plain` : `${tmp}/mnt`;
  const dataDir = `${ext4}/data`;
  await Deno.mkdir(ext4);
  if (!direct) await Deno.mkdir(fuse);
  let dev: string | undefined;
  let daemon: Daemon | undefined;
  let workload: Deno.ChildProcess | undefined;
  const results: RoundResult[] = [];
  let removeError: string | undefined;
  let failed = false;
  try {
    const f = await Deno.open(img, { write: true, create: true });
    await f.truncate(256 << 20);
    f.close();
    dev = await must("losetup", "--find", "--show", img);
    await must("mkfs.ext4", "-q", dev);
    await must("mount", dev, ext4);
    const init = await rencfs(["init", "-d", dataDir, "--recovery-code-file", "-"], {
      env: { RENCFS_PASSWORD: PASSWORD },
    });
    if (init.code !== 0) throw new Error(`rencfs init failed: ${init.stderr}`);

    if (direct) {
      await Deno.mkdir(fuse);
    } else {
      daemon = new Daemon(fuse, dataDir);
      await daemon.ready(fuse);
    }
    const snapshots: Record<string, WalkState>[] = [];
    const damagedSeen = new Set<string>();
    for (let k = 0; k < opts.rounds; k++) {
      const t0 = Date.now();
      const seed = roundSeed(opts.seed, k);
      const rand = prng(seed ^ 0x5bd1e995);
      const lo = opts.minDelayMs ?? 100;
      const delayMs = lo + Math.floor(rand() * ((opts.maxDelayMs ?? 2000) - lo + 1));
      const journalPath = `${tmp}/journal-${k}.jsonl`;
      const rel = `r${k}`;
      workload = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", WORKLOAD, "run", fuse, rel, journalPath, String(seed)],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      let endedEarly = false;
      const wdone = workload.output().then((o) => {
        endedEarly = true;
        return o;
      });
      // The delay counts from the workload's first journal line, not from its start-up.
      const started = Date.now();
      while (Date.now() - started < 20_000) {
        const size = await Deno.stat(journalPath).then((s) => s.size, () => 0);
        if (size > 0) break;
        await sleep(10);
      }
      await sleep(delayMs);
      // An operation that failed before the crash is a bug of the store, not of the crash.
      const failedBeforeCrash = endedEarly;

      const before = await dmesgNow();
      if (opts.mode === "power") {
        ext4Shutdown(ext4);
        try {
          workload.kill("SIGKILL");
        } catch {
          // ended already
        }
        daemon?.kill();
      } else {
        // Workload first: every operation it finished was answered by a live daemon.
        try {
          workload.kill("SIGKILL");
        } catch {
          // ended already
        }
        await wdone;
        daemon?.kill();
      }
      const wout = await wdone;
      workload = undefined;
      await daemon?.exit();
      daemon = undefined;
      if (!direct) await detachFuse(fuse);
      let kernel: string[] | undefined;
      if (opts.mode === "power") {
        await unmountExt4(ext4);
        await superblockGone(dev);
        await must("mount", dev, ext4);
        kernel = await dmesgTail(dev, before);
        if (kernel.length > 0 && !kernel.some((l) => /recovery complete/.test(l))) {
          throw new Error(`ext4 remounted without journal recovery:\n${kernel.join("\n")}`);
        }
      }

      const journal = parseJournal(await Deno.readTextFile(journalPath));
      const last = journal[journal.length - 1];
      const result: RoundResult = {
        round: k,
        seed,
        mode: opts.mode,
        delayMs,
        ops: journal.filter((l) => l.t === "op").length,
        syncs: journal.filter((l) => l.t === "sync").length,
        workloadEnd: last?.t === "err" ? last.d : last?.t === "end" ? "end" : undefined,
        violations: [],
        damaged: [],
        olderChunks: 0,
        kernel,
        ms: 0,
      };
      if (!wout.success && wout.code !== 137 && wout.signal !== "SIGKILL") {
        result.workloadEnd = `exit ${wout.code}: ${new TextDecoder().decode(wout.stderr)}`;
      }
      if (failedBeforeCrash && result.workloadEnd !== "end") {
        result.violations.push({
          kind: "error",
          path: "(workload)",
          detail: `failed before the crash: ${result.workloadEnd}`,
        });
      }

      if (!direct) {
        daemon = new Daemon(fuse, dataDir);
        try {
          await daemon.ready(fuse);
        } catch (e) {
          result.openError = String(e);
        }
      }
      if (!result.openError) {
        const found = await walkTree(fuse);
        result.violations.push(...verifyRound(journal, found, rel, opts.mode));
        const roots = Object.keys(found).filter((p) => !p.includes("/"));
        for (const p of roots) {
          if (!/^r\d+$/.test(p) || Number(p.slice(1)) > k) {
            result.violations.push({ kind: "phantom", path: p, detail: "unknown entry at root" });
          }
        }
        snapshots.forEach((s, j) => result.violations.push(...verifyUnchanged(s, found, `r${j}`)));
        snapshots.push(
          Object.fromEntries(Object.entries(found).filter(([p]) => p.startsWith(`${rel}`))),
        );
        // A damaged object is reported by every mount that meets it: count it once.
        for (const line of (daemon?.log ?? "").split("\n")) {
          if (/older version of chunk/.test(line)) result.olderChunks++;
          const obj = /damaged object (\S+?):/.exec(line)?.[1]?.replace(/^.*\/(o\/)/, "$1");
          if (obj && !damagedSeen.has(obj)) {
            damagedSeen.add(obj);
            result.damaged.push(line);
          }
        }
      }
      result.ms = Date.now() - t0;
      results.push(result);
      opts.onRound?.(result);
      const bad = result.openError !== undefined || result.violations.length > 0 ||
        result.damaged.length > 0;
      if (bad) failed = true;
      if (result.openError || (bad && opts.stopOnFailure)) break;
    }
    if (daemon && !direct) removeError = await removeAll(fuse);
    if (daemon) {
      // A clean unmount at the end: the daemon must write everything out and exit 0.
      daemon.child.kill("SIGTERM");
      const s = await daemon.exit();
      daemon = undefined;
      if (s.code !== 0) {
        throw new Error(`rencfs exited ${s.code} on SIGTERM after the rounds`);
      }
    }
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    try {
      workload?.kill("SIGKILL");
    } catch {
      // gone
    }
    await workload?.status.catch(() => {});
    if (daemon) {
      daemon.kill();
      await daemon.exit().catch(() => {});
    }
    if (!direct) await detachFuse(fuse).catch(() => {});
    await unmountExt4(ext4).catch(() => {});
    if (dev) await run("losetup", "-d", dev);
    if (failed && opts.keepImages) {
      console.error(`crash test files kept in ${tmp}`);
    } else {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  }
  return {
    rounds: results,
    removeError,
    keptIn: failed && opts.keepImages ? tmp : undefined,
  };
}

/** Walks the mount in a child process (a hung FUSE request cannot hang the test). */
async function walkTree(mnt: string): Promise<Record<string, WalkState>> {
  const out = await outputWithin(Deno.execPath(), ["run", "-A", "--quiet", WORKLOAD, "walk", mnt]);
  if (!out.success) {
    throw new Error(`walk of ${mnt} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** A readable account of a failed round, for test failures and the script. */
export function describeRound(r: RoundResult, max = 20): string {
  const lines = [
    `round ${r.round} (${r.mode}, seed ${r.seed}, crash after ${r.delayMs} ms, ` +
    `${r.ops} ops, ${r.syncs} fsyncs acknowledged${
      r.workloadEnd ? `, workload: ${r.workloadEnd}` : ""
    })`,
  ];
  if (r.openError) lines.push(`  data dir does not mount: ${r.openError}`);
  for (const v of r.violations.slice(0, max)) lines.push(`  ${v.kind}: ${v.path}: ${v.detail}`);
  if (r.violations.length > max) lines.push(`  … ${r.violations.length - max} more`);
  for (const d of r.damaged.slice(0, 5)) lines.push(`  log: ${d}`);
  return lines.join("\n");
}

/** Rounds per test from RENCFS_CRASH_ROUNDS, else `fallback`. */
export function roundsFromEnv(fallback: number): number {
  const v = Number(Deno.env.get("RENCFS_CRASH_ROUNDS"));
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

/** Seed from RENCFS_CRASH_SEED, else a random one (printed by the tests on failure). */
export function seedFromEnv(): number {
  const v = Number(Deno.env.get("RENCFS_CRASH_SEED"));
  return Number.isInteger(v) && v >= 0 ? v >>> 0 : crypto.getRandomValues(new Uint32Array(1))[0];
}

/**
 * One crash test: a series of `mode` rounds (RENCFS_CRASH_ROUNDS, default 8; seed from
 * RENCFS_CRASH_SEED) that stops at the first failed round and throws its account.
 */
export async function assertCrashSeries(mode: CrashMode, what: string): Promise<void> {
  const seed = seedFromEnv();
  const series = await crashSeries({
    mode,
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
      `${what} broke the durability contract (series seed ${seed}):\n` +
        bad.map((r) => describeRound(r)).join("\n") +
        (series.keptIn ? `\nimage and journals kept in ${series.keptIn}` : ""),
    );
  }
}
