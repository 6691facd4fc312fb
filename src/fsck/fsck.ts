/**
 * `fsck`: checks a data dir object by object, like `gocryptfs -fsck`, and optionally repairs
 * it. Usable without FUSE. A check holds the data dir's shared lock (a writable mount holds
 * the exclusive one, so a data dir in use is refused); a repair holds the exclusive lock.
 */
import type { CipherName } from "../crypto/aead.ts";
import { DataDirBusyError, DirLock } from "../../ffi/dirlock.ts";
import { type Secret, unlockDataDir } from "../store/datadir.ts";
import { StoreKeys } from "../store/keys.ts";
import { Checker } from "./check.ts";
import type { FsckReport, Problem } from "./problems.ts";

export {
  type CheckStats,
  formatProblem,
  formatSummary,
  type FsckReport,
  type Problem,
  type ProblemKind,
} from "./problems.ts";

/** Options of {@link fsck}. */
export interface FsckOptions {
  /** Fix what can be fixed (default: check only, nothing on disk changes). */
  repair?: boolean;
  /** Called as objects are examined: how many so far, of about how many. */
  onProgress?: (done: number, total: number) => void;
}

/** The data dir is in use by a mount (or another rencfs process). */
export class FsckBusyError extends DataDirBusyError {}

/**
 * Checks the data dir `dataDir`, unlocked with `secret`, and with `repair` fixes what can be
 * fixed, then checks again. Throws the key file's errors (wrong password, damaged key file …)
 * and {@link FsckBusyError} when the data dir is in use.
 */
export async function fsck(
  dataDir: string,
  secret: Secret,
  opts: FsckOptions = {},
): Promise<FsckReport> {
  const repair = opts.repair ?? false;
  const { masterKey, header } = await unlockDataDir(dataDir, secret);
  let lock: DirLock;
  let keys: StoreKeys;
  try {
    lock = takeLock(dataDir, repair);
    keys = StoreKeys.derive(masterKey, header.cipher as CipherName);
  } finally {
    masterKey.fill(0);
  }
  try {
    const check = await new Checker(dataDir, keys, header, {
      repair,
      onProgress: opts.onProgress,
    }).run();
    const report: FsckReport = {
      repair,
      problems: check.problems,
      notes: check.notes,
      remaining: [],
      stats: check.stats,
      clean: check.problems.length === 0,
    };
    if (!repair || check.problems.length === 0) return report;
    await check.applyRepairs();
    await lock.syncfs();
    // What the repairs left: a second, read-only pass decides whether the data dir is clean.
    const again = await new Checker(dataDir, keys, header, { repair: false }).run();
    report.remaining = again.problems;
    report.clean = again.problems.length === 0 && check.problems.every((p) => p.repaired);
    return report;
  } finally {
    keys.wipe();
    lock.release();
  }
}

function takeLock(dataDir: string, repair: boolean): DirLock {
  try {
    return DirLock.acquire(dataDir, !repair);
  } catch (e) {
    if (!(e instanceof DataDirBusyError)) throw e;
    throw new FsckBusyError(
      repair
        ? `${dataDir} is in use by a mount (or another rencfs process): unmount it before --repair`
        : `${dataDir} is in use by a writable mount (or another rencfs process): unmount it, ` +
          "or mount it read-only, before checking it",
    );
  }
}

/** Problems of `after` not already reported (same kind and place) in `before`. */
export function newProblems(before: Problem[], after: Problem[]): Problem[] {
  const seen = new Set(before.map((p) => `${p.kind}\0${p.where}`));
  return after.filter((p) => !seen.has(`${p.kind}\0${p.where}`));
}
