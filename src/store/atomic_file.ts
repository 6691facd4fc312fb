/**
 * Whole-file replacement that is never torn: the new bytes go to a temporary file beside the
 * target, which is then renamed over it. A reader (or a crash) sees the old file or the new one.
 */
import { open, rename, unlink } from "node:fs/promises";
import { constants } from "node:fs";
import { openRaw, writeAllSync } from "./object_io.ts";
import { sysClose, sysError, sysRename, sysUnlink } from "../../ffi/sysio.ts";
import { randomBytes } from "../crypto/random.ts";
import { folderOf, settleFile, settleFolder } from "./backing_times.ts";
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
