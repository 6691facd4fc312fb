/**
 * Mounting a {@link FileSystem} with FUSE: checks, session set-up, the request loop, and a
 * clean unmount that never drops what the kernel acknowledged and never leaves a dead mount
 * behind.
 *
 * @module
 */

import { fuseVersion, loadFuse } from "../../ffi/fuse.ts";
import { trimFreedMemory } from "../../ffi/memory.ts";
import { collectGarbage } from "../util/gc.ts";
import { memoryBudgetNow } from "../util/memory_budget.ts";
import { inodeShareNow, shareAfterCollection, shareOnCheck } from "../util/inode_share.ts";
import { type FileSystem, hasZeroCopy } from "../fs/types.ts";
import { type Logger, OpContext } from "./context.ts";
import { buildOps, DEFAULT_KERNEL_OPTIONS, type KernelOptions } from "./ops.ts";
import { DEFAULT_LOOP_TUNING, FuseSession, type LoopTuning } from "./session.ts";
import { InitFlag } from "./init_reply.ts";
import { PageStore } from "./page_store.ts";
import { limitDirty, raiseReadahead } from "./sys.ts";
import { findMount, type MountEntry } from "../../ffi/mounts.ts";
import { forceDetach, isRoot as isRootUser, unmount } from "../../ffi/unmount.ts";
import { deviceNumber, type MountUsers, mountUsers } from "./mount_users.ts";

export type { MountUsers } from "./mount_users.ts";

/** How to mount. */
export interface MountOptions {
  /** Mount read-only (also forced when the filesystem itself is read-only). */
  readOnly?: boolean;
  /** Let other users access the mount (non-root needs `user_allow_other` in /etc/fuse.conf). */
  allowOther?: boolean;
  /** Let root access the mount too; exclusive with `allowOther`. */
  allowRoot?: boolean;
  /** Source shown in /proc/mounts, e.g. "rencfs:/path/to/datadir". */
  fsName?: string;
  /** Where problems are reported; silent when absent. */
  logger?: Logger;
}

/** A live mount. */
export interface Mount {
  /** Absolute, symlink-free path of the mount point. */
  readonly mountPoint: string;
  /** Resolves when the session ended (unmounted from outside, or unmount() finished). */
  readonly done: Promise<void>;
  /**
   * Clean unmount: `umount` (`fusermount3 -u` when not root) runs in a subprocess while the loop
   * keeps serving, so dirty pages are flushed through the filesystem. When the mount is busy (a
   * process has a file open or its cwd inside), `opts.busy` decides; by default it is detached
   * lazily and served until the kernel ends the session, when its last user has gone, so that
   * nothing the kernel acknowledged is lost. Then `fs.syncAll()`; resolves after `done`. The
   * filesystem is not closed: that is the caller's.
   */
  unmount(opts?: UnmountOptions): Promise<void>;
  /** Whether {@link unmount} had to detach the mount lazily and now waits for its users. */
  readonly detached: boolean;
  /** Who still uses the mount (open files, working directories), counted through /proc. */
  users(): Promise<MountUsers>;
  /** Requests started so far and still running: the mount is idle while neither changes. */
  activity(): { started: number; inFlight: number };
}

/** Options of {@link Mount.unmount}. */
export interface UnmountOptions {
  /**
   * What to do when the mount is busy:
   * - `"detach"` (default): detach it lazily (`umount -l`, `fusermount3 -u -z`) and keep serving
   *   until the last open file is closed, as an outside `umount -l` would;
   * - `"refuse"`: reject with a {@link MountError} and keep serving, still attached;
   * - `"abort"`: detach and close the connection at once: processes inside get ENOTCONN and what
   *   they wrote without fsync is lost. For tests and tools that must not wait.
   */
  busy?: "detach" | "refuse" | "abort";
}

/** A mount could not be made; the message is one line meant for users. */
export class MountError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MountError";
  }
}

/** Internal knobs for tests and benchmarks; defaults are the measured choice. */
export interface MountTuning {
  kernel?: Partial<KernelOptions>;
  loop?: Partial<LoopTuning>;
  /** Tests: every page store waits this long before it is sent (page_store.ts). */
  pageStoreDelayMs?: number;
}

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const FUSERMOUNT_PATHS = ["/usr/bin/fusermount3", "/bin/fusermount3", "/usr/local/bin/fusermount3"];
/** How often free malloc memory is returned to the system (see LiveMount.start). */
const TRIM_INTERVAL_MS = 2000;
/**
 * How often the mount checks its memory: inodes over budget (see prune), resident memory near
 * the ceiling (see relieve).
 */
const PRESSURE_INTERVAL_MS = 100;
/**
 * Resident memory this close under the ceiling is collected at once (see relieve): a stream
 * leaves garbage at up to ~100 MiB/s on the chunk worker's thread, which collects it only when
 * told to or when tens of MiB have piled up.
 */
const PRESSURE_HEADROOM = 32 * 1048576;
/** Growth since the last collection that makes another one worth it. */
const PRESSURE_STEP = 4 * 1048576;
/**
 * Room under the ceiling a collection must leave, or the inode budget is lowered
 * (src/util/inode_share.ts): a burst of garbage (a stream's, or V8's own when its collections
 * run back to back) has been seen to add ~50 MiB within 200 ms, faster than the checks.
 */
const SHRINK_MARGIN = 56 * 1048576;
/** Room under the ceiling above which a lowered inode budget grows back, step by step. */
const GROW_MARGIN = 72 * 1048576;
/** Kernel entries dropped per prune, at most, and how many notifications are in flight. */
const PRUNE_BATCH = 8192;
const PRUNE_PARALLEL = 8;
/** Pressure checks per prune (500 ms). */
const PRUNE_EVERY_TICKS = 5;
/** Change of the resident memory that is worth a DEBUG line. */
const MEMORY_LOG_STEP = 32 * 1048576;

/**
 * Mounts `fs` at `mountPoint` and starts serving it. Rejects with a {@link MountError} when the
 * mount point, /dev/fuse or libfuse3 is not usable.
 */
export async function mount(
  fs: FileSystem,
  mountPoint: string,
  opts: MountOptions = {},
): Promise<Mount> {
  return await mountTuned(fs, mountPoint, opts, {});
}

/**
 * Whether the kernel must check permission bits (`default_permissions`). Without the option the
 * kernel lets every caller it admits do anything but execute a file without an x bit, and asks
 * the filesystem for access(2). A mount made by root that no other user may enter
 * (no `allow_other`) admits only processes whose uids and gids are all 0 (libfuse sets the
 * mount's owner from the real ids), and root passes the mode checks anyway, so they are skipped:
 * otherwise every creation or removal costs a GETATTR of its directory first, which the change
 * itself has invalidated. Root processes stripped of CAP_DAC_OVERRIDE are then not held back by
 * mode bits (docs/threat-model.md).
 */
export function needsModeChecks(opts: Pick<MountOptions, "allowOther">): boolean {
  return !!opts.allowOther || Deno.uid() !== 0 || Deno.gid() !== 0;
}

/** {@link mount} with internal tuning (benchmarks, tests). */
export async function mountTuned(
  fs: FileSystem,
  mountPoint: string,
  opts: MountOptions,
  tuning: MountTuning,
): Promise<Mount> {
  const log = opts.logger ?? SILENT;
  const mp = await checkMountPoint(mountPoint);
  if (opts.allowOther && opts.allowRoot) {
    throw new MountError("allowOther and allowRoot cannot be used together");
  }
  if (!(await exists("/dev/fuse"))) {
    throw new MountError("/dev/fuse is missing (load the fuse kernel module: modprobe fuse)");
  }
  const fuse = loadFuse();
  if (!fuse) throw new MountError("libfuse3 is not installed (apt-get install fuse3 libfuse3-3)");
  const isRoot = isRootUser();
  const fusermount = await firstExisting(FUSERMOUNT_PATHS);
  if (!isRoot && !fusermount) {
    throw new MountError("fusermount3 is not installed (apt-get install fuse3)");
  }

  const mountOpts = [
    `fsname=${escapeOpt(opts.fsName ?? "rencfs")}`,
    "subtype=rencfs",
  ];
  if (needsModeChecks(opts)) mountOpts.push("default_permissions");
  if (opts.readOnly || fs.readOnly) mountOpts.push("ro");
  if (opts.allowOther) mountOpts.push("allow_other");
  if (opts.allowRoot) mountOpts.push("allow_root");
  // No auto_unmount: fusermount3's helper would unmount after this process died, and a writer
  // still inside would then write plaintext into the bare mount point directory. A dead mount
  // answers ENOTCONN until it is cleared (`rencfs mount -u`, `fusermount3 -u`).

  const kernel = { ...DEFAULT_KERNEL_OPTIONS, ...tuning.kernel };
  const loopTuning = { ...DEFAULT_LOOP_TUNING, ...tuning.loop };
  const ctx = new OpContext(fuse, fs, log);
  const session = FuseSession.create(
    fuse,
    ["rencfs", "-o", mountOpts.join(",")],
    buildOps(ctx, kernel),
  );
  if (!session) throw new MountError(`libfuse rejected the mount options: ${mountOpts.join(",")}`);
  if (!session.mount(mp)) {
    session.destroy();
    const hint = opts.allowOther && !isRoot
      ? " (allow_other needs user_allow_other in /etc/fuse.conf)"
      : "";
    throw new MountError(`cannot mount on ${mp}${hint}; libfuse printed the reason above`);
  }
  log.debug(`fuse: libfuse ${fuseVersion(fuse)} mounted ${mp} (${mountOpts.join(",")})`);

  ctx.invalidateAttr = (ino) => session.invalidateAttr(ino);
  ctx.request = () => session.request();
  if (kernel.killprivV2) session.extraInitFlags |= InitFlag.HANDLE_KILLPRIV_V2;
  session.onInit = (granted) => {
    const v2 = (granted & InitFlag.HANDLE_KILLPRIV_V2) !== 0;
    log.debug(
      `fuse: set-ID bits cleared by ${v2 ? "this filesystem (killpriv v2)" : "the kernel"}`,
    );
  };
  // Before the first request: a change served without the page store would not be fenced.
  // statfs blocks are the store's chunks (src/fs/statfs.ts).
  const chunk = kernel.storePages ? (await fs.statfs().catch(() => null))?.bsize : undefined;
  if (chunk) {
    ctx.pages = new PageStore(
      (ino, off, v) => session.storePages(ino, off, v),
      chunk,
      tuning.pageStoreDelayMs,
    );
    ctx.pages.onStop = (why) => log.warn(`fuse: ${why}; short reads no longer fill the page cache`);
  }
  const live = new LiveMount(mp, fs, session, ctx, log, isRoot, fusermount);
  live.start(loopTuning);
  // After mounting, so the kernel's bdi exists; raises 128 KiB readahead to 1 MiB reads, and
  // bounds the dirty data the kernel may hold for the mount (see space_guard.ts).
  const info = await findMount(mp);
  if (info) {
    live.info = info;
    await raiseReadahead(info, kernel.maxReadahead, log);
    const s = await fs.statfs().catch(() => null);
    if (s) ctx.space.setDirtyLimit(await limitDirty(info, s.blocks * s.bsize, log));
  }
  await ctx.space.check(true);
  return live;
}

class LiveMount implements Mount {
  readonly done: Promise<void>;
  info: MountEntry | undefined;
  private resolveDone!: () => void;
  private unmounting: Promise<void> | undefined;
  private loopEnded = false;
  private lazy = false;
  private pruning: Promise<void> | null = null;

  constructor(
    readonly mountPoint: string,
    private readonly fs: FileSystem,
    private readonly session: FuseSession,
    private readonly ctx: OpContext,
    private readonly log: Logger,
    private readonly isRoot: boolean,
    private readonly fusermount: string | undefined,
  ) {
    this.done = new Promise((r) => this.resolveDone = r);
  }

  start(t: LoopTuning): void {
    // Buffers of finished requests (1 MiB each) are freed to malloc, which keeps the pages:
    // hand free memory back to the system every few seconds (docs/performance.md, "Choices in
    // the code"). Once the mount has been idle for a whole interval, spare buffers and garbage
    // go too (see collectGarbage), once per idle spell.
    let seen = -1;
    let idleDone = false;
    let loggedRss = 0;
    const trim = setInterval(() => {
      const idle = this.ctx.started === seen && this.ctx.inFlight === 0;
      seen = this.ctx.started;
      if (!idle) idleDone = false;
      else if (!idleDone) {
        idleDone = true;
        if (hasZeroCopy(this.fs)) this.fs.trimMemory();
        collectGarbage();
      }
      trimFreedMemory();
      const m = Deno.memoryUsage();
      shareOnCheck(m.rss, memoryBudgetNow().limit - GROW_MARGIN);
      const mib = (b: number) => Math.round(b / 1048576);
      // Only when it moved notably: a line every interval, forever, buries everything else.
      if (Math.abs(m.rss - loggedRss) < MEMORY_LOG_STEP) return;
      loggedRss = m.rss;
      this.log.debug(
        `memory: rss ${mib(m.rss)} MiB, js heap ${mib(m.heapUsed)}/${mib(m.heapTotal)} MiB, ` +
          `array buffers ${mib(m.external)} MiB`,
      );
    }, TRIM_INTERVAL_MS);
    Deno.unrefTimer(trim);
    let floor = 0;
    let ticks = 0;
    const prune = setInterval(() => {
      // A table over its limit is scanned whole: every few ticks only.
      if (ticks++ % PRUNE_EVERY_TICKS === 0) this.prune();
      floor = this.relieve(floor);
    }, PRESSURE_INTERVAL_MS);
    Deno.unrefTimer(prune);
    this.session.loop(
      t,
      () => this.ctx.inFlight > 0,
      () => this.ctx.room(),
      () => this.ctx.takeWriteBack(),
    ).then(
      (r) => {
        if (r < 0) this.log.error(`fuse: reading /dev/fuse failed: errno ${-r}`);
      },
      (e) => this.log.error(`fuse: request loop failed: ${(e as Error)?.stack ?? e}`),
    ).finally(() => {
      clearInterval(trim);
      clearInterval(prune);
      this.loopEnded = true;
      return this.finish();
    });
  }

  /**
   * The inodes the kernel keeps cached (every name looked up, until memory pressure) stay live
   * here too, whatever their number: over the memory budget, the filesystem names the oldest
   * idle ones and the kernel is asked to drop those entries; it then sends FORGET for each
   * inode nothing uses, and the inode can leave memory. A later access looks the name up again.
   */
  private prune(): void {
    if (this.pruning || this.loopEnded || this.ctx.closed) return;
    const names = this.fs.forgettable?.(PRUNE_BATCH) ?? [];
    if (names.length === 0) return;
    this.log.debug(`fuse: over the inode budget: asking the kernel to forget ${names.length}`);
    // A few at a time: each waits for the directory's lock, which the requests of a busy
    // directory take in turn; one by one, pruning fell behind a `touch` of 100,000 files.
    let next = 0;
    const one = async () => {
      while (next < names.length && !this.loopEnded && !this.ctx.closed) {
        const { parent, name } = names[next++];
        await this.session.invalidateEntry(parent, name);
      }
    };
    this.pruning = Promise.all(Array.from({ length: PRUNE_PARALLEL }, one)).then(() => {}).catch((
      e,
    ) => this.log.debug(`fuse: prune: ${e}`)).finally(() => this.pruning = null);
  }

  /**
   * Near the memory ceiling: V8 collects a thread's dead ArrayBuffers (chunk images, request
   * data) only once tens of MiB of them have piled up, on each thread, and malloc keeps freed
   * pages. Collect now, here and in the chunk workers, and hand the pages back; if that leaves
   * memory near the ceiling, lower the inode budget and prune. Returns the resident memory after
   * a collection (no new one until it grew notably), or `floor`.
   */
  private relieve(floor: number): number {
    const m = Deno.memoryUsage();
    const rss = m.rss;
    const limit = memoryBudgetNow().limit;
    if (rss < limit - PRESSURE_HEADROOM || rss < floor + PRESSURE_STEP) {
      return Math.min(floor, rss);
    }
    // Garbage of this thread (random writes seal chunks here) needs only a collection here;
    // otherwise it is the chunk worker's (streams), which collects when its pools are trimmed.
    // The buffers shared with the worker count as this thread's without being garbage: counted
    // in, they kept the pools of an earlier stream from ever being trimmed.
    const zeroCopy = hasZeroCopy(this.fs) ? this.fs : null;
    if (zeroCopy && m.external - (zeroCopy.sharedBytes?.() ?? 0) < PRESSURE_HEADROOM / 2) {
      zeroCopy.trimMemory();
    }
    collectGarbage();
    trimFreedMemory();
    const after = Deno.memoryUsage().rss;
    // Still near the ceiling after a collection: live inodes fill it, not garbage. Keep fewer.
    if (shareAfterCollection(after, limit - SHRINK_MARGIN)) {
      this.log.debug(
        `memory: rss ${Math.round(after / 1048576)} MiB after a collection: inode budget ` +
          `lowered to ${Math.round(inodeShareNow() * 100)}%`,
      );
      this.prune();
    }
    return after;
  }

  /** After the loop: wait for in-flight operations, close the session, hand back counts, sync. */
  private async finish(): Promise<void> {
    try {
      const deadline = Date.now() + 30_000;
      while (this.ctx.inFlight > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
      if (this.ctx.inFlight > 0) {
        this.log.warn(`fuse: ${this.ctx.inFlight} operations still running at unmount`);
      }
      // No notification should outlive the session; but one may wait for a directory lock held
      // by a request nobody answers any more (after an abort), which only the destroy ends.
      if (this.pruning) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([this.pruning, new Promise((r) => timer = setTimeout(r, 2000))]);
        clearTimeout(timer);
      }
      // A page store runs on a pool thread with the session's memory: the session is freed
      // only once none runs (one still waiting for a page is left with it: leaked, not freed).
      const stores = await this.quiesceStores();
      this.ctx.closed = true;
      if (stores) this.session.destroy(await this.stillMounted());
      else this.log.warn("fuse: a page store is still waiting; the session is left open");
      for (const [ino, n] of this.ctx.counts.drain()) this.fs.forget(ino, n);
      await this.fs.syncAll();
      this.log.info(`fuse: ${this.mountPoint} unmounted`);
    } catch (e) {
      this.log.error(`fuse: shutdown of ${this.mountPoint}: ${(e as Error)?.stack ?? e}`);
    } finally {
      this.resolveDone();
    }
  }

  /** Stops page stores; true once none runs (waits up to 5 s while the loop still serves). */
  private async quiesceStores(): Promise<boolean> {
    return await (this.ctx.pages?.quiesce(5000) ?? true);
  }

  get detached(): boolean {
    return this.lazy;
  }

  activity(): { started: number; inFlight: number } {
    return { started: this.ctx.started, inFlight: this.ctx.inFlight };
  }

  async users(): Promise<MountUsers> {
    const dev = this.info && deviceNumber(this.info.dev);
    if (dev === undefined) return { openFiles: 0, processes: 0 };
    return await mountUsers(dev);
  }

  unmount(opts: UnmountOptions = {}): Promise<void> {
    if (!this.unmounting) {
      const p = this.doUnmount(opts.busy ?? "detach");
      // A refused (busy) unmount may be retried.
      p.catch(() => {
        if (this.unmounting === p) this.unmounting = undefined;
      });
      this.unmounting = p;
    }
    return this.unmounting;
  }

  private async doUnmount(busy: "detach" | "refuse" | "abort"): Promise<void> {
    if (this.loopEnded) return await this.done;
    const mp = this.mountPoint;
    const how = { fuse: true, root: this.isRoot, fusermount: this.fusermount };
    const { command: plain, error } = await unmount(mp, how);
    let err = error;
    if (err === undefined) {
      // Normally the loop now ends with ENODEV. A copy of the mount in another mount namespace
      // keeps the connection open, and may have users: serve it until it goes too.
      if (await this.endsWithin(5_000)) return await this.done;
      if (busy !== "abort") {
        this.log.warn(
          `fuse: ${mp} unmounted, but the connection stays open (a copy of the mount in ` +
            `another mount namespace?); serving it until it is unmounted there too`,
        );
        return await this.done;
      }
      this.log.warn(`fuse: ${mp} unmounted but the connection stays open; closing it`);
      await this.quiesceStores();
      this.session.exit();
      return await this.done;
    }
    if (busy === "refuse") throw new MountError(`cannot unmount ${mp}: ${err}`);
    const { command: lazy, error: lazyErr } = await unmount(mp, { ...how, lazy: true });
    if (lazyErr === undefined) this.lazy = true;
    if (busy === "detach") {
      if (lazyErr !== undefined) {
        throw new MountError(`cannot unmount ${mp}: ${err}; ${lazy.join(" ")}: ${lazyErr}`);
      }
      // The kernel ends the session once the last open file is closed (flushed through us
      // first); until then every request is served as before.
      this.log.info(
        `fuse: ${mp} is busy (${err}): detached it; serving until its last user is gone`,
      );
      return await this.done;
    }
    this.log.warn(`fuse: ${plain.join(" ")} failed (${err}); detaching and disconnecting`);
    err = lazyErr;
    if (err !== undefined) this.log.error(`fuse: ${lazy.join(" ")} failed (${err})`);
    await this.quiesceStores();
    this.session.exit();
    if (this.isRoot && err !== undefined) {
      // Last resort: abort the connection, then detach (no request can block an aborted one).
      forceDetach(mp);
    }
    await this.done;
  }

  /** Our mount is still attached at the mount point (not after an unmount or lazy detach). */
  private async stillMounted(): Promise<boolean> {
    try {
      const m = await findMount(this.mountPoint);
      return m !== undefined && (this.info === undefined || m.dev === this.info.dev);
    } catch {
      return true;
    }
  }

  private async endsWithin(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((r) => timer = setTimeout(() => r(false), ms));
    const ended = this.done.then(() => true);
    try {
      return await Promise.race([ended, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Resolves and validates the mount point; returns its absolute real path. */
async function checkMountPoint(mountPoint: string): Promise<string> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(mountPoint);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new MountError(`mount point ${mountPoint} does not exist`);
    }
    if (e instanceof Deno.errors.NotConnected || /not connected/i.test(String(e))) {
      throw new MountError(
        `mount point ${mountPoint} is a dead FUSE mount (run: umount ${mountPoint})`,
      );
    }
    throw new MountError(`mount point ${mountPoint}: ${(e as Error).message}`);
  }
  if (!st.isDirectory) throw new MountError(`mount point ${mountPoint} is not a directory`);
  const real = await Deno.realPath(mountPoint);
  if (await findMount(real)) {
    throw new MountError(`mount point ${mountPoint} is already a mount point`);
  }
  return real;
}

/** Escapes a value for libfuse's comma-separated option list. */
function escapeOpt(v: string): string {
  return v.replace(/[\\,]/g, (ch) => "\\" + ch);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function firstExisting(paths: string[]): Promise<string | undefined> {
  for (const p of paths) if (await exists(p)) return p;
  return undefined;
}
