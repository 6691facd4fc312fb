/**
 * Checks done before anything is created or changed: mount point, FUSE availability, data dir.
 * Each failure is a CliError with the documented exit code.
 */
import { basename, dirname, isAbsolute, join, relative } from "node:path";
import { DataDirBusyError, DirLock } from "../../ffi/dirlock.ts";
import { loadFuse } from "../../ffi/fuse.ts";
import { type DataDirState, inspectDataDir, readHeader } from "../store/datadir.ts";
import { CliError } from "./errors.ts";
import { ExitCode } from "./exit_codes.ts";
import { log } from "./log.ts";
import { findMount, isFuse, type MountEntry } from "../../ffi/mounts.ts";
import { unmount } from "../../ffi/unmount.ts";

const INSTALL_FUSE = "install it with: apt-get install fuse3 libfuse3-3";

/**
 * The canonical path of `path` without stat-ing `path` itself: a dead FUSE mount fails every
 * stat with ENOTCONN, but its parent resolves fine and mountinfo lists canonical paths.
 */
async function canonicalPath(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch {
    try {
      return join(await Deno.realPath(dirname(path)), basename(path));
    } catch {
      return path;
    }
  }
}

/** How {@link checkMountPoint} treats what it finds at the mount point. */
export interface MountPointOptions {
  /** Clear a dead FUSE mount (its server is gone) found there; a live mount is still refused. */
  umountOnStart: boolean;
  /** Accept a directory that is not empty (the mount hides its contents). */
  nonempty: boolean;
  /**
   * A missing mount point whose folder exists is acceptable: the caller creates it (first run on
   * a terminal, where the user is asked). Otherwise it is an error (a typo).
   */
  mayCreate?: boolean;
}

/** How long a mount point may take to answer before it counts as hung (and is left alone). */
const PROBE_TIMEOUT_MS = 3000;

/**
 * Whether the mount at `path` answers: "dead" when the kernel says ENOTCONN (a FUSE mount whose
 * server died), "hung" when it does not answer in time. Opening the directory asks the server,
 * where a stat may be answered from the kernel's attribute cache.
 */
async function probeMount(path: string): Promise<"live" | "dead" | "hung"> {
  const probe = (async () => {
    try {
      await Deno.stat(path);
      for await (const _ of Deno.readDir(path)) break;
      return "live" as const;
    } catch (e) {
      if (isNotConnected(e)) return "dead" as const;
      return "live" as const; // answers, if only with an error: someone serves it
    }
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"hung">((r) => timer = setTimeout(() => r("hung"), PROBE_TIMEOUT_MS));
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function isNotConnected(e: unknown): boolean {
  return e instanceof Deno.errors.NotConnected || /not connected/i.test(String(e));
}

/** What {@link checkMountPoint} found: the canonical path, and a dead mount to clear there. */
export interface MountPointCheck {
  /** Canonical (absolute, symlink-free) path of the mount point. */
  path: string;
  /**
   * The dead FUSE mount found there with `umountOnStart`: {@link clearDeadMount} clears it right
   * before mounting, so that a writer still reopening files in it never finds the bare directory
   * for long.
   */
  deadMount?: MountEntry;
  /** Missing, to be created by the caller ({@link MountPointOptions.mayCreate}). */
  create?: boolean;
}

/**
 * Validates the mount point: not mounted on (with `umountOnStart`, a dead FUSE mount there is
 * accepted, to be cleared by {@link clearDeadMount}; a live one is always refused), existing, a
 * directory, and empty unless `nonempty`.
 */
export async function checkMountPoint(
  path: string,
  opts: MountPointOptions,
): Promise<MountPointCheck> {
  const canonical = await canonicalPath(path);
  const entry = await findMount(canonical);
  if (entry) {
    const state = await probeMount(canonical);
    const what = `${entry.fsType} from ${entry.source}`;
    if (state !== "dead") {
      const hung = state === "hung"
        ? ` and does not answer within ${PROBE_TIMEOUT_MS / 1000} s`
        : "";
      const refused = opts.umountOnStart ? "; --umount-on-start clears only a dead mount" : "";
      throw new CliError(
        ExitCode.MOUNT_POINT,
        `mount point ${path} is already mounted (${what})${hung}${refused}; ` +
          `unmount it first (fusermount3 -u ${path}, or umount)`,
      );
    }
    if (!opts.umountOnStart) {
      throw new CliError(
        ExitCode.MOUNT_POINT,
        `mount point ${path} is a dead mount (${what}: its server is gone, access fails with ` +
          `"transport endpoint is not connected"); clear it with --umount-on-start ` +
          `(or fusermount3 -u ${path})`,
      );
    }
    // What lies below is checked once it is cleared.
    return { path: canonical, deadMount: entry };
  }
  if (opts.mayCreate && await missingIn(canonical)) return { path: canonical, create: true };
  await checkDirectory(path, canonical, opts.nonempty);
  return { path: canonical };
}

// Whether `path` is missing while its folder exists.
async function missingIn(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return false;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return false;
    try {
      return (await Deno.stat(dirname(path))).isDirectory;
    } catch {
      return false;
    }
  }
}

/** Creates the mount point that {@link checkMountPoint} accepted as missing (0700). */
export async function createMountPoint(path: string): Promise<void> {
  try {
    await Deno.mkdir(path, { mode: 0o700 });
  } catch (e) {
    throw new CliError(
      ExitCode.MOUNT_POINT,
      `cannot create mount point ${path}: ${(e as Error).message}`,
    );
  }
}

/**
 * Clears the dead mount that {@link checkMountPoint} found (lazily: processes that still hold
 * files in it keep getting errors), then checks the directory it covered like any mount point.
 */
export async function clearDeadMount(
  path: string,
  check: MountPointCheck,
  nonempty: boolean,
): Promise<void> {
  const dead = check.deadMount;
  if (!dead) return;
  const what = `${dead.fsType} from ${dead.source}`;
  // Checked again: it may have been cleared, or mounted anew, since.
  const now = await findMount(check.path);
  if (now) {
    if ((await probeMount(check.path)) !== "dead") {
      throw new CliError(
        ExitCode.MOUNT_POINT,
        `mount point ${path} is mounted again (${now.fsType} from ${now.source}); not touched`,
      );
    }
    log("mount").warn("clearing the dead mount at {path} ({what}) (--umount-on-start)", {
      path: check.path,
      what,
    });
    const { command, error } = await unmount(check.path, { lazy: true, fuse: isFuse(now) });
    if (error) log("mount").debug("{cmd} failed: {error}", { cmd: command.join(" "), error });
    const after = await findMount(check.path);
    if (after) {
      // Not cleared, or another mount lay below the dead one: that one is never unmounted.
      const still = (await probeMount(check.path)) === "dead" ? "cannot clear" : "cleared";
      throw new CliError(
        ExitCode.MOUNT_POINT,
        still === "cannot clear"
          ? `cannot clear the dead mount at ${path}`
          : `mount point ${path} is still mounted after clearing a dead mount there ` +
            `(${after.fsType} from ${after.source}); unmount it first`,
      );
    }
  }
  await checkDirectory(path, check.path, nonempty);
}

/** Exists, is a directory, and is empty unless `nonempty`. */
async function checkDirectory(path: string, canonical: string, nonempty: boolean): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(canonical);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(ExitCode.MOUNT_POINT, `mount point ${path} does not exist`);
    }
    throw new CliError(ExitCode.MOUNT_POINT, `mount point ${path}: ${(e as Error).message}`);
  }
  if (!info.isDirectory) {
    throw new CliError(ExitCode.MOUNT_POINT, `mount point ${path} is not a directory`);
  }
  if (!nonempty && !(await isEmptyDir(path, canonical))) {
    throw new CliError(
      ExitCode.MOUNT_POINT,
      `mount point ${path} is not empty: the mount would hide its contents ` +
        `(use --nonempty to mount anyway)`,
    );
  }
}

async function isEmptyDir(path: string, canonical: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(canonical)) return false;
  } catch (e) {
    throw new CliError(ExitCode.MOUNT_POINT, `mount point ${path}: ${(e as Error).message}`);
  }
  return true;
}

/** Refuses a mount point inside the data dir or the other way round (the mount would recurse). */
export async function checkNotNested(mountPoint: string, dataDir: string): Promise<void> {
  const data = await canonicalPath(dataDir);
  const inside = (a: string, b: string) => {
    const rel = relative(b, a);
    return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
  };
  if (inside(mountPoint, data)) {
    throw new CliError(ExitCode.MOUNT_POINT, `mount point ${mountPoint} is inside the data dir`);
  }
  if (inside(data, mountPoint)) {
    throw new CliError(ExitCode.MOUNT_POINT, `data dir ${dataDir} is inside the mount point`);
  }
}

/**
 * Fails with exit code 6 when /dev/fuse cannot be opened for reading and writing by this user
 * (missing, or no permission: existing is not enough), or libfuse3 is missing.
 */
export async function checkFuse(): Promise<void> {
  try {
    const info = await Deno.stat("/dev/fuse");
    if (!info.isCharDevice) throw new Error("not a character device");
  } catch {
    throw new CliError(
      ExitCode.FUSE_UNAVAILABLE,
      "FUSE is unavailable: /dev/fuse is missing (modprobe fuse; in a container: " +
        `--device /dev/fuse); packages: apt-get install fuse3 libfuse3-3`,
    );
  }
  // Opening it creates an unused FUSE connection, which closing drops again; a mount needs
  // exactly this (fusermount3 opens it as the user too).
  try {
    (await Deno.open("/dev/fuse", { read: true, write: true })).close();
  } catch (e) {
    const why = e instanceof Deno.errors.PermissionDenied
      ? `permission denied for ${userName()} (ls -l /dev/fuse: it must be readable and ` +
        `writable by this user, normally crw-rw-rw-; ask the administrator, or run as root)`
      : (e as Error).message;
    throw new CliError(
      ExitCode.FUSE_UNAVAILABLE,
      `FUSE is unavailable: cannot open /dev/fuse for reading and writing: ${why}`,
    );
  }
  // The same lookup the FUSE adapter does, so this check cannot disagree with it.
  if (!loadFuse()) {
    throw new CliError(
      ExitCode.FUSE_UNAVAILABLE,
      `FUSE is unavailable: libfuse3 (libfuse3.so.3) is missing; ${INSTALL_FUSE}`,
    );
  }
  if (Deno.uid() !== 0 && !(await onPath("fusermount3"))) {
    throw new CliError(
      ExitCode.FUSE_UNAVAILABLE,
      `FUSE is unavailable: fusermount3 is missing (needed when not root); ${INSTALL_FUSE}`,
    );
  }
}

async function onPath(cmd: string): Promise<boolean> {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    try {
      if ((await Deno.stat(join(dir || ".", cmd))).isFile) return true;
    } catch {
      // not in this dir
    }
  }
  return false;
}

/**
 * Inspects the data dir; refuses a path that is not a directory, a directory that is not empty
 * and not a rencfs data dir, and a damaged or too new key file (exit code 4).
 */
export async function checkDataDir(dataDir: string): Promise<Exclude<DataDirState, "foreign">> {
  try {
    const info = await Deno.stat(dataDir);
    if (!info.isDirectory) {
      throw new CliError(ExitCode.DATA_DIR, `data dir ${dataDir} is not a directory`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const state = await inspectDataDir(dataDir);
  if (state === "foreign") {
    throw new CliError(
      ExitCode.DATA_DIR,
      `${dataDir} is not a rencfs data dir (it is not empty and has no rencfs key file)`,
    );
  }
  // Damaged or too new: say so before asking for a password that cannot help.
  if (state === "rencfs") await readHeader(dataDir);
  return state;
}

function userName(): string {
  const uid = Deno.uid();
  return uid === null ? "this user" : `uid ${uid}`;
}

/**
 * Refuses a data dir that another process holds (a mount, fsck): its lock is tried without
 * waiting and released at once, the same kind of lock the mount takes (shared when read-only).
 * Call it for an existing directory only.
 */
export function checkDataDirFree(dataDir: string, readOnly: boolean): void {
  let lock: DirLock;
  try {
    lock = DirLock.acquire(dataDir, readOnly);
  } catch (e) {
    if (e instanceof DataDirBusyError) {
      throw new CliError(
        ExitCode.DATA_DIR,
        `data dir ${dataDir} is in use by another rencfs process (a mount of it, or fsck); ` +
          `unmount it first (rencfs info --data-dir ${dataDir} tells whether it is in use)`,
      );
    }
    throw e;
  }
  lock.release();
}
