/**
 * Writes that are never torn. Whole-file replacement: the new bytes go to a temporary file beside
 * the target, which is then renamed over it; a reader (or a crash) sees the old file or the new
 * one. A new name's small file: made in place with `O_EXCL` ({@link writeNewInPlace}).
 */
import { open, rename, unlink } from "node:fs/promises";
import { constants } from "node:fs";
import { openRaw, SAFE_OPEN, sysOpenObject, writeAllSync } from "./object_io.ts";
import { errnoName, sysClose, sysError, sysRename, sysUnlink } from "../../ffi/sysio.ts";
import { randomBytes } from "../crypto/random.ts";
import { folderOf, type FolderSettler, settleFile, settleFolder } from "./backing_times.ts";
import { TMP_NAME_BYTES, tmpPath } from "./format/paths.ts";

/**
 * Writes `data` to `path` atomically. With `durable`, the temporary file is fsynced before the
 * rename and the directory after it, so the new content survives a power cut once this resolves.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array,
  durable: boolean,
): Promise<void> {
  const tmp = tmpPath(path, randomBytes(TMP_NAME_BYTES));
  // Not durable: small synchronous syscalls (see object_io.ts for why).
  if (!durable) return writeSmallAtomic(tmp, path, data);
  const fh = await open(tmp, "wx", 0o600);
  try {
    await fh.writeFile(data);
    settleFile(fh.fd);
    if (durable) await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  settleFolder(folderOf(path));
  if (durable) await fsyncDir(folderOf(path));
}

function writeSmallAtomic(tmp: string, path: string, data: Uint8Array): void {
  const fd = openRaw(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    writeAllSync(fd, data, 0, tmp);
    settleFile(fd);
  } catch (e) {
    sysClose(fd);
    sysUnlink(tmp);
    throw e;
  }
  sysClose(fd);
  const r = sysRename(tmp, path);
  if (r < 0) {
    sysUnlink(tmp);
    throw sysError(r, "rename", tmp);
  }
  settleFolder(folderOf(path));
}

/** fsyncs a directory so that renames and creations in it are durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The most bytes {@link writeNewInPlace} writes: one page (the smallest the kernel uses). */
export const ONE_PAGE = 4096;

/**
 * Creates `path`, a name that must hold no file, with `O_EXCL` and fills it with one `pwrite`
 * within its first page: a killed process leaves it whole or empty, and so does a power cut
 * (ext4 writes a new file's data before the size that covers it). False, with nothing written,
 * when a file is already there or `data` is larger than a page; the caller then replaces whole
 * ({@link writeFileAtomic}). The folder's times go back to the epoch with the burst (`folders`).
 */
export function writeNewInPlace(path: string, data: Uint8Array, folders: FolderSettler): boolean {
  const fd = createInPlace(path, data, folders);
  if (fd === null) return false;
  settleFile(fd);
  sysClose(fd);
  return true;
}

/**
 * {@link writeNewInPlace}, but the file stays open (read-write) and its times unset: the caller
 * owns the descriptor and settles the file's times before it closes it (backing_times.ts). Null
 * where writeNewInPlace returns false.
 */
export function createInPlace(
  path: string,
  data: Uint8Array,
  folders: FolderSettler,
): number | null {
  if (data.length > ONE_PAGE) return null;
  const flags = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | SAFE_OPEN;
  const fd = sysOpenObject(path, flags, 0o600);
  if (fd < 0) {
    if (errnoName(fd) === "EEXIST") return null;
    throw sysError(fd, "open", path);
  }
  folders.later(folderOf(path));
  try {
    writeAllSync(fd, data, 0, path);
  } catch (e) {
    sysClose(fd);
    sysUnlink(path); // ours (O_EXCL): no name is left
    throw e;
  }
  return fd;
}
