/** `rencfs mount`: validate, unlock (or create) the data dir, mount, serve until unmounted. */
import type { EncryptedFs } from "../../fs/encrypted_fs.ts";
import { hardenProcess } from "../../../ffi/harden.ts";
import { raiseOpenFileLimit } from "../../../ffi/rlimits.ts";
import { type Mount, mount } from "../../fuse/mount.ts";
import { describeUsers } from "../../fuse/mount_users.ts";
import type { MountArgs } from "../args.ts";
import { createAndOpen, openExisting } from "../datadir.ts";
import { isDaemonChild, reportReady, startDaemon } from "../daemon.ts";
import { CliError } from "../errors.ts";
import { readHeader } from "../../store/datadir.ts";
import { ExitCode } from "../exit_codes.ts";
import { isTraceEnabled, log, logDestination, type LogLevelName, simpleLogger } from "../log.ts";
import { getPassword } from "../password.ts";
import {
  checkDataDir,
  checkDataDirFree,
  checkFuse,
  checkMountPoint,
  checkNotNested,
  clearDeadMount,
  createMountPoint,
  type MountPointCheck,
} from "../preflight.ts";
import {
  checkRecoveryTarget,
  mountRecoveryTarget,
  RecoveryCodeSink,
  type RecoveryCodeTarget,
} from "../recovery.ts";
import { canAsk, confirm } from "../prompt.ts";
import { SignalQueue } from "../signals.ts";
import { writeStderr } from "../output.ts";
import { traced } from "../trace.ts";
import { watchIdle } from "../idle.ts";
import { keyringAvailable } from "../../../ffi/keyring.ts";
import { collectGarbage } from "../../util/gc.ts";
import { setMemoryLimit } from "../../util/memory_budget.ts";

// Below this many descriptors, a mount runs out with a few thousand files open (ffi/rlimits.ts).
const MIN_OPEN_FILES = 4096;

const logger = log("mount");

/** Runs `rencfs mount`; resolves to the exit code. */
export async function runMount(
  args: MountArgs,
  logLevel: LogLevelName,
  logFile?: string,
): Promise<number> {
  // Everything is validated before anything is created or a password asked, in the order of
  // docs/cli.md: a failure leaves no trace on disk.
  const state = await checkDataDir(args.dataDir);
  const isNew = state !== "rencfs";
  if (isNew) checkMayCreate(args, state);
  if (!isNew && args.cipher !== undefined) {
    // The cipher is fixed at creation: asking for another one is a mistake worth stopping.
    const { header } = await readHeader(args.dataDir);
    if (header.cipher !== args.cipher) {
      throw new CliError(
        ExitCode.DATA_DIR,
        `data dir ${args.dataDir} uses ${header.cipher}, not ${args.cipher} (the cipher is chosen at creation)`,
      );
    }
  }
  if (state !== "missing") checkDataDirFree(args.dataDir, args.readOnly);
  await checkFuse();
  // First run on a terminal: one question creates the data dir and a missing mount point.
  const asking = isNew && !args.init;
  const checked = await checkMountPoint(args.mountPoint, {
    umountOnStart: args.umountOnStart,
    nonempty: args.nonempty,
    mayCreate: asking,
  });
  const mountPoint = checked.path;
  await checkNotNested(mountPoint, args.dataDir);
  const target = isNew ? mountRecoveryTarget(args.recoveryCodeFile) : undefined;
  if (target) await checkRecoveryTarget(target);
  if (!isNew && args.recoveryCodeFile !== undefined) {
    logger.warn("{dataDir} exists: --recovery-code-file is used only for a new data dir", {
      dataDir: args.dataDir,
    });
  }
  if (isNew && !args.init) {
    // checkMayCreate made sure there is a terminal to ask on.
    const alsoMountPoint = checked.create ? ` and the mount point ${mountPoint}` : "";
    if (!(await confirm(`rencfs: create a new data dir at ${args.dataDir}${alsoMountPoint}?`))) {
      throw new CliError(
        ExitCode.DATA_DIR,
        `no data dir created at ${args.dataDir}; nothing mounted`,
      );
    }
  }
  if (checked.create) await createMountPoint(mountPoint);
  // `let`, and dropped right after the unlock: this async function's frame lives as long as the
  // mount, and a JS string cannot be zeroed, only left for the garbage collector.
  let password: string | undefined = await getPassword(args.password, isNew);

  if (args.background && !isDaemonChild()) {
    // Created here, where the terminal is: the detached child only ever opens it.
    if (target) {
      hardenProcess(); // this process holds the master key meanwhile
      await create(args, password, target, false);
    }
    return await startDaemon(childArgv(args, mountPoint, logLevel, logFile), password);
  }

  // Before the data dir is opened: its caches are sized from it.
  setMemoryLimit(args.memoryLimit);
  // The serving process holds the keys: no core dumps, no ptrace by the same user.
  const notHardened = hardenProcess();
  if (notHardened.length) {
    logger.warn("process hardening incomplete: {steps}", { steps: notHardened });
  }
  const files = raiseOpenFileLimit();
  if (files && files.soft < MIN_OPEN_FILES) {
    logger.warn(
      "at most {n} files can be open through the mount (ulimit -n); raise the hard limit",
      { n: files.soft },
    );
  }
  if (args.keyIdleMs > 0 && !keyringAvailable()) {
    logger.warn("no kernel keyring here: --key-idle is ignored, the keys stay in memory");
  }
  let fs: EncryptedFs;
  try {
    fs = target
      ? (await create(args, password, target, true))!
      : await openExisting(args.dataDir, password, args.readOnly, args.keyIdleMs);
  } finally {
    password = undefined;
  }
  // The password's strings and the KDF's buffers are garbage now: collect them before serving.
  collectGarbage();
  return await serve(fs, checked, args);
}

/**
 * A missing or empty data dir is created only when asked for: --init, or a yes on a terminal.
 * Otherwise a typo in --data-dir would quietly make (and mount) a new, empty vault.
 */
function checkMayCreate(args: MountArgs, state: "missing" | "empty"): void {
  const what = state === "missing" ? "does not exist" : "is empty";
  if (args.readOnly) {
    throw new CliError(
      ExitCode.DATA_DIR,
      `data dir ${args.dataDir} ${what}: a read-only mount needs an existing data dir`,
    );
  }
  if (args.init || canAsk()) return;
  throw new CliError(
    ExitCode.DATA_DIR,
    `data dir ${args.dataDir} ${what}: nothing to mount (check the path). To create a new ` +
      `data dir there: rencfs init --data-dir ${args.dataDir} --recovery-code-file FILE, or ` +
      `mount with --init`,
  );
}

/**
 * Creates the data dir and hands out its recovery code; `open`: returns it opened (else closed).
 */
async function create(
  args: MountArgs,
  password: string,
  target: RecoveryCodeTarget,
  open: boolean,
): Promise<EncryptedFs | undefined> {
  const sink = await RecoveryCodeSink.open(target);
  let created: { fs: EncryptedFs; recoveryCode: string };
  try {
    created = await createAndOpen(args.dataDir, password, args.cipher, args.keyIdleMs);
  } catch (e) {
    await sink.abort();
    throw e;
  }
  logger.info("created data dir {dataDir}", { dataDir: args.dataDir });
  try {
    await sink.deliver(created.recoveryCode, args.dataDir);
  } catch (e) {
    await closeQuietly(created.fs);
    throw e;
  }
  if (open) return created.fs;
  await created.fs.close();
  return undefined;
}

/** The child's command line: same mount, absolute paths, no password options. */
function childArgv(
  args: MountArgs,
  mountPoint: string,
  logLevel: LogLevelName,
  logFile: string | undefined,
): string[] {
  const argv = ["--log-level", logLevel];
  if (logFile !== undefined) argv.push("--log-file", logFile);
  argv.push("mount", "-m", mountPoint, "-d", args.dataDir);
  if (args.cipher) argv.push("--cipher", args.cipher);
  if (args.readOnly) argv.push("--read-only");
  if (args.allowOther) argv.push("--allow-other");
  if (args.allowRoot) argv.push("--allow-root");
  // The child checks the mount point again, and clears a dead mount there right before mounting.
  if (args.umountOnStart) argv.push("--umount-on-start");
  if (args.nonempty) argv.push("--nonempty");
  if (args.logNames) argv.push("--log-names");
  if (args.idleMs !== undefined) argv.push("--idle", `${args.idleMs}ms`);
  argv.push("--key-idle", `${args.keyIdleMs}ms`);
  argv.push("--memory-limit", String(args.memoryLimit));
  argv.push("--background");
  return argv;
}

/** Mounts `fs` and serves it until a signal or an unmount from outside; closes `fs`. */
async function serve(fs: EncryptedFs, checked: MountPointCheck, args: MountArgs): Promise<number> {
  const mountPoint = checked.path;
  try {
    // As late as possible: a writer still reopening files at the dead mount would put them,
    // in plaintext, into the bare directory until the new mount covers it.
    await clearDeadMount(args.mountPoint, checked, args.nonempty);
  } catch (e) {
    await closeQuietly(fs);
    throw e;
  }
  // Listen before mounting so that a signal arriving meanwhile is not lost (and does not kill
  // the process with the mount half set up).
  const signals = await SignalQueue.create(["SIGINT", "SIGTERM", "SIGHUP"]);
  let m: Mount;
  // Per-operation lines only at TRACE: the wrapper costs a little on every request.
  const served = isTraceEnabled() ? traced(fs, log("op"), args.logNames) : fs;
  try {
    m = await mount(served, mountPoint, {
      readOnly: args.readOnly,
      allowOther: args.allowOther,
      allowRoot: args.allowRoot,
      fsName: `rencfs:${args.dataDir}`,
      logger: simpleLogger(log("fuse")),
    });
  } catch (e) {
    signals.close();
    await closeQuietly(fs);
    throw e;
  }
  logger.info("mounted {dataDir} at {mountPoint}", { dataDir: args.dataDir, mountPoint });
  const stopIdle = args.idleMs === undefined ? undefined : watchIdle(m, args.idleMs);
  if (isDaemonChild()) {
    // The parent relays this, then returns: say where later lines go.
    if (logDestination() !== "stderr") writeStderr(`rencfs: logging to ${logDestination()}\n`);
    reportReady();
  }

  const ended = m.done.then(() => undefined, (e: unknown) => e ?? new Error("FUSE session failed"));
  let failure: unknown;
  let unmounting = false;
  try {
    for (;;) {
      const next = await Promise.race([
        ended.then((e) => ({ ended: true as const, e })),
        signals.next().then((sig) => ({ ended: false as const, sig })),
      ]);
      if (next.ended) {
        failure = next.e;
        break;
      }
      if (unmounting) {
        // Never abort a mount that still has users: their acknowledged writes would be lost.
        await reportStillServing(m, next.sig);
        continue;
      }
      logger.info("{sig}: unmounting {mountPoint}", { sig: next.sig, mountPoint });
      unmounting = true;
      // Resolves when the session ended, which the race above sees; a busy mount is detached
      // and served until its last open file is closed.
      m.unmount().catch((e) => {
        unmounting = false;
        logger.error("cannot unmount {mountPoint}: {e}; still mounted: signal again to retry", {
          mountPoint,
          e,
        });
      });
    }
  } finally {
    stopIdle?.();
    signals.close();
  }
  await closeQuietly(fs);
  if (failure !== undefined) throw failure;
  logger.info("unmounted {mountPoint}", { mountPoint });
  return ExitCode.OK;
}

/** A signal while the unmount waits: say what it waits for, change nothing. */
async function reportStillServing(m: Mount, sig: Deno.Signal): Promise<void> {
  const mountPoint = m.mountPoint;
  if (!m.detached) {
    logger.warn("{sig}: already unmounting {mountPoint}", { sig, mountPoint });
    return;
  }
  const users = describeUsers(await m.users());
  logger.warn(
    "{sig}: {mountPoint} is detached; still serving {users}; the unmount completes when they " +
      "are closed (kill -9 would abort it and lose their unsynced data)",
    { sig, mountPoint, users },
  );
}

/** Flushes and closes; the mount may have closed it already, which is fine. */
async function closeQuietly(fs: EncryptedFs): Promise<void> {
  try {
    await fs.close();
  } catch (e) {
    logger.debug("close: {e}", { e });
  }
}
