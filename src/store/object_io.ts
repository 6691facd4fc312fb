/**
 * Reading objects of a data dir that an attacker may have planted things in: never follow a
 * symlink, never block on a FIFO or device, never read more than an object can legitimately be.
 */
import { constants, type FileHandle, lstat, open } from "node:fs/promises";

/** Thrown for an object that is not a plain file of a plausible size. */
export class NotAnObjectError extends Error {}

/** Flags for opening an object: no symlink following, no blocking open of a FIFO. */
export const SAFE_OPEN = constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Opens a data dir file without following symlinks; refuses anything but a regular file. */
export async function openObject(path: string, flags: number, mode = 0o600): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(path, flags | SAFE_OPEN, mode);
  } catch (e) {
    if ((e as { code?: string }).code === "ELOOP") {
      throw new NotAnObjectError(`${path} is a symlink, not an object`);
    }
    throw e;
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new NotAnObjectError(`${path} is not a regular file`);
  }
  return fh;
}

/** The bytes of a small object; null when it does not exist. */
export async function readObject(path: string, maxBytes: number): Promise<Uint8Array | null> {
  let fh: FileHandle;
  try {
    fh = await openObject(path, constants.O_RDONLY);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return null;
    throw e;
  }
  try {
    const { size } = await fh.stat();
    if (size > maxBytes) throw new NotAnObjectError(`${path} is too large (${size} bytes)`);
    const buf = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await fh.read(buf, got, size - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/**
 * Remembers which folders of a data dir were checked to be real directories (not symlinks
 * planted to redirect writes elsewhere), so each is checked once per session.
 */
export class FolderGuard {
  readonly #ok = new Set<string>();

  /** Resolves when `path` is a real directory; false if missing; throws if anything else. */
  async check(path: string): Promise<boolean> {
    if (this.#ok.has(path)) return true;
    let st;
    try {
      st = await lstat(path);
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return false;
      throw e;
    }
    if (!st.isDirectory()) throw new NotAnObjectError(`${path} is not a real directory`);
    if (this.#ok.size > 100_000) this.#ok.clear();
    this.#ok.add(path);
    return true;
  }

  /** Forgets a folder that was removed. */
  forget(path: string): void {
    this.#ok.delete(path);
  }
}
