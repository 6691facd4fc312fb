/**
 * Reading objects of a data dir that an attacker may have planted things in: never follow a
 * symlink, never block on a FIFO or device, never read more than an object can legitimately be.
 *
 * Small objects (records, entries: a few hundred bytes, page-cached) are read and written
 * with synchronous syscalls: each costs a few microseconds, while an async file operation in
 * Deno costs 30–100 µs of thread hand-off, which would dominate every metadata operation.
 * Content chunks and every fsync stay asynchronous.
 */
import { constants } from "node:fs";
import { closeSync, fstatSync, lstatSync, openSync, readSync } from "node:fs";

/** Thrown for an object that is not a plain file of a plausible size. */
export class NotAnObjectError extends Error {}

/** Flags for opening an object: no symlink following, no blocking open of a FIFO. */
export const SAFE_OPEN = constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The bytes of a small object; null when it does not exist. */
export function readObject(path: string, maxBytes: number): Promise<Uint8Array | null> {
  return Promise.resolve(readObjectSync(path, maxBytes));
}

// Most objects are a few hundred bytes: one read into this buffer, no fstat, tells the size.
const scratch = new Uint8Array(64 * 1024);

function readObjectSync(path: string, maxBytes: number): Uint8Array | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | SAFE_OPEN);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT") return null;
    if (code === "ELOOP") throw new NotAnObjectError(`${path} is a symlink, not an object`);
    throw e;
  }
  try {
    // A FIFO opened O_NONBLOCK reads as empty, a directory fails: neither is a valid object.
    let n: number;
    try {
      n = readSync(fd, scratch, 0, scratch.length, 0);
    } catch (e) {
      throw new NotAnObjectError(`${path} cannot be read as an object: ${(e as Error).message}`);
    }
    if (n < scratch.length) return scratch.slice(0, n);
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotAnObjectError(`${path} is not a regular file`);
    if (st.size > maxBytes) throw new NotAnObjectError(`${path} is too large (${st.size} bytes)`);
    const buf = new Uint8Array(st.size);
    let got = 0;
    while (got < buf.length) {
      const r = readSync(fd, buf, got, buf.length - got, got);
      if (r === 0) break;
      got += r;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * The first bytes of an object, as many as `want(firstBytes)` says (from what one read of up
 * to 64 KiB returned); null when it does not exist. For files whose head is metadata and whose
 * rest is content.
 */
export function readHead(path: string, want: (head: Uint8Array) => number): Uint8Array | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | SAFE_OPEN);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT") return null;
    if (code === "ELOOP") throw new NotAnObjectError(`${path} is a symlink, not an object`);
    throw e;
  }
  try {
    let n: number;
    try {
      n = readSync(fd, scratch, 0, scratch.length, 0);
    } catch (e) {
      throw new NotAnObjectError(`${path} cannot be read as an object: ${(e as Error).message}`);
    }
    if (n === 0) throw new NotAnObjectError(`${path} is empty`);
    const need = want(scratch.subarray(0, n));
    if (need <= n) return scratch.slice(0, need);
    if (n < scratch.length) return scratch.slice(0, n); // the file is shorter than wanted
    if (!fstatSync(fd).isFile()) throw new NotAnObjectError(`${path} is not a regular file`);
    const buf = new Uint8Array(need);
    let got = 0;
    while (got < need) {
      const r = readSync(fd, buf, got, need - got, got);
      if (r === 0) break;
      got += r;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * Remembers which folders of a data dir were checked to be real directories (not symlinks
 * planted to redirect writes elsewhere), so each is checked once per session.
 */
export class FolderGuard {
  readonly #ok = new Set<string>();

  /** Resolves when `path` is a real directory; false if missing; throws if anything else. */
  check(path: string): Promise<boolean> {
    try {
      return Promise.resolve(this.#check(path));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #check(path: string): boolean {
    if (this.#ok.has(path)) return true;
    let st;
    try {
      st = lstatSync(path);
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
