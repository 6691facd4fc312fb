/**
 * Checks done before anything is created or changed: mount point, FUSE availability, data dir.
 * Each failure is a CliError with the documented exit code.
 */
import { basename, dirname, isAbsolute, join, relative } from "node:path";
import { loadFuse } from "../../ffi/fuse.ts";
import { type DataDirState, inspectDataDir, readHeader } from "../store/datadir.ts";
import { CliError } from "./errors.ts";
import { ExitCode } from "./exit_codes.ts";
import { log } from "./log.ts";
import { findMount, isFuse } from "./mountinfo.ts";
import { lazyUnmount } from "./unmount.ts";

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

/**
 * Validates the mount point and returns its canonical path: not mounted on (unless
 * `umountOnStart`, which unmounts what is there), existing, a directory.
 */
export async function checkMountPoint(path: string, umountOnStart: boolean): Promise<string> {
  const canonical = await canonicalPath(path);
  let entry = await findMount(canonical);
  if (entry && umountOnStart) {
    log("mount").warn("unmounting {fsType} mount at {path} (--umount-on-start)", {
      fsType: entry.fsType,
      path: canonical,
    });
    await lazyUnmount(canonical, isFuse(entry));
    entry = await findMount(canonical);
    if (entry) {
      throw new CliError(ExitCode.MOUNT_POINT, `cannot unmount ${path} (--umount-on-start)`);
    }
  }
  if (entry) {
    throw new CliError(
      ExitCode.MOUNT_POINT,
      `mount point ${path} is already mounted (${entry.fsType} from ${entry.source}); ` +
        `unmount it (fusermount3 -u ${path}) or use --umount-on-start`,
    );
  }
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
  return canonical;
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

/** Fails with exit code 6 when /dev/fuse or libfuse3 is missing. */
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
