/**
 * A small path-based API over an {@link EncryptedFs}, shaped like Deno's file API, for programs
 * that read and write encrypted data without FUSE. Paths are absolute inside the data dir
 * ("/notes/a.txt"); symlinks are not followed (every call acts on the link itself).
 */
import { FsError, fsError } from "./errors.ts";
import type { EncryptedFs } from "./encrypted_fs.ts";
import { type Attr, ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "./types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2;

/** What {@link Vault.stat} returns. */
export interface VaultStat {
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
  size: number;
  mode: number;
  mtime: Date;
  ino: bigint;
}

/** Options of {@link Vault.open}, as in `Deno.open`. */
export interface VaultOpenOptions {
  read?: boolean;
  write?: boolean;
  create?: boolean;
  createNew?: boolean;
  truncate?: boolean;
  append?: boolean;
  mode?: number;
}

function toStat(a: Attr): VaultStat {
  const t = a.mode & S_IFMT;
  return {
    isFile: t === S_IFREG,
    isDirectory: t === S_IFDIR,
    isSymlink: t === S_IFLNK,
    size: a.size,
    mode: a.mode & 0o7777,
    mtime: new Date(Number(a.mtimeNs / 1_000_000n)),
    ino: a.ino,
  };
}

function split(path: string): Uint8Array[] {
  if (!path.startsWith("/")) throw fsError("EINVAL", `path must be absolute: ${path}`);
  return path.split("/").filter((p) => p && p !== ".").map((p) => enc.encode(p));
}

/** An open file of a {@link Vault}: read, write, seek, truncate, close. */
export class VaultFile {
  #pos = 0;
  #closed = false;

  /** @internal */
  constructor(
    readonly fs: EncryptedFs,
    readonly ino: bigint,
    readonly fh: number,
    readonly append: boolean,
  ) {}

  /** Reads into `buf` at the current position; null at end of file (like `Deno.FsFile`). */
  async read(buf: Uint8Array): Promise<number | null> {
    const got = await this.fs.read(this.ino, this.fh, this.#pos, buf.length);
    if (got.length === 0 && buf.length > 0) return null;
    buf.set(got);
    this.#pos += got.length;
    return got.length;
  }

  /** Writes all of `data` at the current position (the end, when opened with `append`). */
  async write(data: Uint8Array): Promise<number> {
    if (this.append) this.#pos = (await this.fs.getattr(this.ino)).size;
    await this.fs.write(this.ino, this.fh, this.#pos, data);
    this.#pos += data.length;
    return data.length;
  }

  /** Moves the position; `whence` is "start", "current" or "end". Returns the new position. */
  async seek(offset: number, whence: "start" | "current" | "end" = "start"): Promise<number> {
    const base = whence === "start"
      ? 0
      : whence === "current"
      ? this.#pos
      : (await this.fs.getattr(this.ino)).size;
    if (base + offset < 0) throw fsError("EINVAL");
    this.#pos = base + offset;
    return this.#pos;
  }

  /** Sets the file's size. */
  async truncate(len = 0): Promise<void> {
    await this.fs.setattr(this.ino, { size: len }, this.fh);
  }

  async stat(): Promise<VaultStat> {
    return toStat(await this.fs.getattr(this.ino));
  }

  /** Makes the file's data and metadata durable. */
  async sync(): Promise<void> {
    await this.fs.fsync(this.ino, this.fh, false);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.fs.flush(this.ino, this.fh);
    await this.fs.release(this.ino, this.fh);
  }
}

/**
 * Path-based access to an encrypted data dir.
 *
 * @example
 * ```ts
 * import { EncryptedFs, Vault } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const { fs } = await EncryptedFs.create(dir, "a long password");
 * const vault = new Vault(fs);
 * await vault.mkdir("/notes");
 * await vault.writeTextFile("/notes/hello.txt", "hello, encrypted world");
 * console.log(await vault.readTextFile("/notes/hello.txt"));
 * await fs.close();
 * ```
 */
export class Vault {
  /** Owner of files this vault creates. */
  readonly caller: { uid: number; gid: number };

  constructor(readonly fs: EncryptedFs, caller?: { uid: number; gid: number }) {
    this.caller = caller ?? { uid: Deno.uid() ?? 0, gid: Deno.gid() ?? 0 };
  }

  async #resolve(parts: Uint8Array[]): Promise<Attr> {
    let a = await this.fs.getattr(ROOT_INO);
    for (const p of parts) a = await this.fs.lookup(a.ino, p);
    return a;
  }

  async #parent(path: string): Promise<{ dir: bigint; name: Uint8Array }> {
    const parts = split(path);
    const name = parts.pop();
    if (!name) throw fsError("EINVAL", "the root has no parent");
    return { dir: (await this.#resolve(parts)).ino, name };
  }

  /** Attributes of `path` (of the link itself for a symlink). */
  async stat(path: string): Promise<VaultStat> {
    return toStat(await this.#resolve(split(path)));
  }

  /** Whether `path` exists. */
  async exists(path: string): Promise<boolean> {
    try {
      await this.#resolve(split(path));
      return true;
    } catch (e) {
      if (e instanceof FsError && e.code === "ENOENT") return false;
      throw e;
    }
  }

  /** Opens a file, as `Deno.open` does (default: read only). */
  async open(path: string, o: VaultOpenOptions = { read: true }): Promise<VaultFile> {
    const write = o.write || o.append || false;
    const flags = (write ? (o.read ? O_RDWR : O_WRONLY) : O_RDONLY) | (o.truncate ? 0o1000 : 0);
    const { dir, name } = await this.#parent(path);
    let ino: bigint, fh: number;
    try {
      const a = await this.fs.lookup(dir, name);
      if (o.createNew) throw fsError("EEXIST");
      ino = a.ino;
      fh = await this.fs.open(ino, flags);
    } catch (e) {
      if (!(e instanceof FsError && e.code === "ENOENT" && (o.create || o.createNew))) throw e;
      const c = await this.fs.create(dir, name, o.mode ?? 0o644, flags, this.caller);
      ino = c.attr.ino;
      fh = c.fh;
    }
    return new VaultFile(this.fs, ino, fh, o.append ?? false);
  }

  /** The whole content of a file. */
  async readFile(path: string): Promise<Uint8Array> {
    const f = await this.open(path);
    try {
      const size = (await f.stat()).size;
      return await this.fs.read(f.ino, f.fh, 0, size);
    } finally {
      await f.close();
    }
  }

  async readTextFile(path: string): Promise<string> {
    return dec.decode(await this.readFile(path));
  }

  /** Creates or replaces the content of a file. */
  async writeFile(path: string, data: Uint8Array, o: { append?: boolean } = {}): Promise<void> {
    const f = await this.open(path, {
      write: true,
      create: true,
      truncate: !o.append,
      append: o.append,
    });
    try {
      await f.write(data);
    } finally {
      await f.close();
    }
  }

  async writeTextFile(path: string, text: string, o: { append?: boolean } = {}): Promise<void> {
    await this.writeFile(path, enc.encode(text), o);
  }

  /** Creates a directory (and its missing parents with `recursive`). */
  async mkdir(path: string, o: { recursive?: boolean; mode?: number } = {}): Promise<void> {
    const parts = split(path);
    let cur = ROOT_INO;
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      try {
        const a = await this.fs.lookup(cur, parts[i]);
        if (last && !o.recursive) throw fsError("EEXIST");
        if ((a.mode & S_IFMT) !== S_IFDIR) throw fsError("ENOTDIR");
        cur = a.ino;
      } catch (e) {
        if (!(e instanceof FsError && e.code === "ENOENT") || (!last && !o.recursive)) throw e;
        cur = (await this.fs.mkdir(cur, parts[i], o.mode ?? 0o755, this.caller)).ino;
      }
    }
  }

  /** The names in a directory, with their kinds. */
  async *readDir(
    path: string,
  ): AsyncIterable<{ name: string; isFile: boolean; isDirectory: boolean; isSymlink: boolean }> {
    const dir = await this.#resolve(split(path));
    const fh = await this.fs.opendir(dir.ino);
    try {
      let off = 2n; // skip "." and ".."
      for (;;) {
        const page = await this.fs.readdir(dir.ino, fh, off, 256);
        if (page.length === 0) return;
        for (const e of page) {
          yield {
            name: dec.decode(e.name),
            isFile: e.type === S_IFREG,
            isDirectory: e.type === S_IFDIR,
            isSymlink: e.type === S_IFLNK,
          };
        }
        off = page[page.length - 1].next;
      }
    } finally {
      await this.fs.releasedir(dir.ino, fh);
    }
  }

  /** Removes a file, a symlink or an empty directory (any directory with `recursive`). */
  async remove(path: string, o: { recursive?: boolean } = {}): Promise<void> {
    const { dir, name } = await this.#parent(path);
    const a = await this.fs.lookup(dir, name);
    if ((a.mode & S_IFMT) !== S_IFDIR) return await this.fs.unlink(dir, name);
    if (o.recursive) {
      const children: string[] = [];
      for await (const e of this.readDir(path)) children.push(e.name);
      for (const c of children) await this.remove(`${path}/${c}`, o);
    }
    await this.fs.rmdir(dir, name);
  }

  /** Renames (replacing a file at `to`, as rename(2) does). */
  async rename(from: string, to: string): Promise<void> {
    const a = await this.#parent(from);
    const b = await this.#parent(to);
    await this.fs.rename(a.dir, a.name, b.dir, b.name, 0);
  }

  /** Creates a symlink at `path` pointing to `target`. */
  async symlink(target: string, path: string): Promise<void> {
    const { dir, name } = await this.#parent(path);
    await this.fs.symlink(dir, name, enc.encode(target), this.caller);
  }

  async readLink(path: string): Promise<string> {
    return dec.decode(await this.fs.readlink((await this.#resolve(split(path))).ino));
  }
}
