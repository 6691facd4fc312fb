// POSIX namespace semantics of the store, without FUSE: names, links, renames, errors.
import { assertEquals, assertRejects } from "./helpers/assert.ts";
import type { FsError } from "../src/fs/errors.ts";
import {
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  ROOT_INO,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
} from "../src/fs/types.ts";
import type { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { freshFs, n, ROOT_CALLER } from "./helpers/store.ts";

const dec = new TextDecoder();

async function errno(p: Promise<unknown>, code: string): Promise<void> {
  await assertRejects(() => p, (e: unknown) => {
    assertEquals((e as FsError).code, code);
    return true;
  });
}

async function names(fs: EncryptedFs, ino: bigint): Promise<string[]> {
  const fh = await fs.opendir(ino);
  const list = await fs.readdir(ino, fh, 0n, 1_000_000);
  await fs.releasedir(ino, fh);
  return list.map((e) => dec.decode(e.name)).sort();
}

async function withFs(fn: (fs: EncryptedFs) => Promise<void>) {
  const { fs, dir } = await freshFs();
  try {
    await fn(fs);
  } finally {
    await fs.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("create, lookup, readdir and the errno of each misuse", () =>
  withFs(async (fs) => {
    const d = await fs.mkdir(ROOT_INO, n("d"), 0o755, ROOT_CALLER);
    assertEquals(d.mode & S_IFMT, S_IFDIR);
    assertEquals((await fs.getattr(ROOT_INO)).nlink, 3);
    const { attr: f, fh } = await fs.create(d.ino, n("f"), 0o600, 2, { uid: 7, gid: 8 });
    await fs.release(f.ino, fh);
    assertEquals([f.uid, f.gid, f.mode & 0o777], [7, 8, 0o600]);
    assertEquals((await fs.lookup(d.ino, n("f"))).ino, f.ino);
    assertEquals(await names(fs, d.ino), [".", "..", "f"]);
    await errno(fs.lookup(d.ino, n("nope")), "ENOENT");
    await errno(fs.create(d.ino, n("f"), 0o600, 2, ROOT_CALLER), "EEXIST");
    await errno(fs.mkdir(ROOT_INO, n("d"), 0o755, ROOT_CALLER), "EEXIST");
    await errno(fs.lookup(f.ino, n("x")), "ENOTDIR");
    await errno(fs.rmdir(ROOT_INO, n("d")), "ENOTEMPTY");
    await errno(fs.unlink(ROOT_INO, n("d")), "EISDIR");
    await errno(fs.rmdir(d.ino, n("f")), "ENOTDIR");
    await errno(
      fs.create(d.ino, new Uint8Array(256).fill(0x61), 0o600, 2, ROOT_CALLER),
      "ENAMETOOLONG",
    );
    const long = new Uint8Array(255).fill(0x62);
    const { fh: lfh, attr: la } = await fs.create(d.ino, long, 0o600, 2, ROOT_CALLER);
    await fs.release(la.ino, lfh);
    assertEquals((await fs.lookup(d.ino, long)).ino, la.ino, "255-byte names work");
    await fs.unlink(d.ino, long);
    await fs.unlink(d.ino, n("f"));
    await fs.rmdir(ROOT_INO, n("d"));
    assertEquals(await names(fs, ROOT_INO), [".", ".."]);
    assertEquals((await fs.getattr(ROOT_INO)).nlink, 2);
  }));

Deno.test("non-UTF-8 names round-trip as bytes", () =>
  withFs(async (fs) => {
    const raw = Uint8Array.of(0xff, 0xfe, 0x41, 0x80);
    const { attr, fh } = await fs.create(ROOT_INO, raw, 0o644, 2, ROOT_CALLER);
    await fs.release(attr.ino, fh);
    const dh = await fs.opendir(ROOT_INO);
    const list = await fs.readdir(ROOT_INO, dh, 0n, 100);
    assertEquals(
      list.some((e) => e.name.length === 4 && e.name.every((b, i) => b === raw[i])),
      true,
    );
  }));

Deno.test("hard links share one inode and the data outlives the first name", () =>
  withFs(async (fs) => {
    const { attr, fh } = await fs.create(ROOT_INO, n("a"), 0o644, 2, ROOT_CALLER);
    await fs.write(attr.ino, fh, 0, n("shared"));
    await fs.release(attr.ino, fh);
    const l = await fs.link(attr.ino, ROOT_INO, n("b"));
    assertEquals([l.ino, l.nlink], [attr.ino, 2]);
    await fs.unlink(ROOT_INO, n("a"));
    const b = await fs.lookup(ROOT_INO, n("b"));
    assertEquals(b.nlink, 1);
    const h = await fs.open(b.ino, 0);
    assertEquals(dec.decode(await fs.read(b.ino, h, 0, 100)), "shared");
    await fs.release(b.ino, h);
  }));

Deno.test("an open file that is unlinked stays readable until released", () =>
  withFs(async (fs) => {
    const { attr, fh } = await fs.create(ROOT_INO, n("tmp"), 0o644, 2, ROOT_CALLER);
    await fs.write(attr.ino, fh, 0, n("still here"));
    await fs.unlink(ROOT_INO, n("tmp"));
    await errno(fs.lookup(ROOT_INO, n("tmp")), "ENOENT");
    assertEquals(dec.decode(await fs.read(attr.ino, fh, 0, 100)), "still here");
    await fs.release(attr.ino, fh);
    await new Promise((r) => setTimeout(r, 10));
    await errno(fs.getattr(attr.ino), "ENOENT");
  }));

Deno.test("rename: replace, noreplace, exchange, directories and loops", () =>
  withFs(async (fs) => {
    const mk = async (parent: bigint, name: string, text: string) => {
      const { attr, fh } = await fs.create(parent, n(name), 0o644, 2, ROOT_CALLER);
      await fs.write(attr.ino, fh, 0, n(text));
      await fs.release(attr.ino, fh);
      return attr.ino;
    };
    const read = async (parent: bigint, name: string) => {
      const a = await fs.lookup(parent, n(name));
      const h = await fs.open(a.ino, 0);
      const t = dec.decode(await fs.read(a.ino, h, 0, 100));
      await fs.release(a.ino, h);
      return t;
    };
    await mk(ROOT_INO, "x", "X");
    await mk(ROOT_INO, "y", "Y");
    await errno(fs.rename(ROOT_INO, n("x"), ROOT_INO, n("y"), RENAME_NOREPLACE), "EEXIST");
    await fs.rename(ROOT_INO, n("x"), ROOT_INO, n("y"), RENAME_EXCHANGE);
    assertEquals([await read(ROOT_INO, "x"), await read(ROOT_INO, "y")], ["Y", "X"]);
    await fs.rename(ROOT_INO, n("x"), ROOT_INO, n("y"), 0);
    assertEquals(await read(ROOT_INO, "y"), "Y");
    await errno(fs.lookup(ROOT_INO, n("x")), "ENOENT");
    const d1 = await fs.mkdir(ROOT_INO, n("d1"), 0o755, ROOT_CALLER);
    const d2 = await fs.mkdir(d1.ino, n("d2"), 0o755, ROOT_CALLER);
    await errno(fs.rename(ROOT_INO, n("d1"), d2.ino, n("in"), 0), "EINVAL");
    await errno(fs.rename(ROOT_INO, n("y"), ROOT_INO, n("d1"), 0), "EISDIR");
    await errno(fs.rename(ROOT_INO, n("d1"), ROOT_INO, n("y"), 0), "ENOTDIR");
    await fs.rename(d1.ino, n("d2"), ROOT_INO, n("d2moved"), 0);
    assertEquals((await fs.lookup(ROOT_INO, n("d2moved"))).ino, d2.ino);
    assertEquals((await fs.lookup(d2.ino, n(".."))).ino, ROOT_INO);
    assertEquals((await fs.getattr(d1.ino)).nlink, 2);
    assertEquals((await fs.getattr(ROOT_INO)).nlink, 4);
    await mk(d1.ino, "child", "C");
    await errno(fs.rename(ROOT_INO, n("d2moved"), ROOT_INO, n("d1"), 0), "ENOTEMPTY");
  }));

Deno.test("symlinks, fifos, xattrs and setattr", () =>
  withFs(async (fs) => {
    const s = await fs.symlink(ROOT_INO, n("ln"), n("../target/path"), ROOT_CALLER);
    assertEquals(s.mode & S_IFMT, S_IFLNK);
    assertEquals(dec.decode(await fs.readlink(s.ino)), "../target/path");
    const p = await fs.mknod(ROOT_INO, n("fifo"), S_IFIFO | 0o644, 0, ROOT_CALLER);
    assertEquals(p.mode & S_IFMT, S_IFIFO);
    await fs.setxattr(p.ino, "user.k", n("v1"), 0);
    await errno(fs.setxattr(p.ino, "user.k", n("v2"), 1), "EEXIST");
    await errno(fs.setxattr(p.ino, "user.z", n("v2"), 2), "ENODATA");
    assertEquals(dec.decode(await fs.getxattr(p.ino, "user.k")), "v1");
    assertEquals(await fs.listxattr(p.ino), ["user.k"]);
    await fs.removexattr(p.ino, "user.k");
    await errno(fs.getxattr(p.ino, "user.k"), "ENODATA");
    const t = 1_000_000_123_456_789n;
    const a = await fs.setattr(p.ino, { mode: 0o600, uid: 5, gid: 6, atime: t, mtime: t });
    assertEquals([a.mode & 0o7777, a.uid, a.gid, a.atimeNs, a.mtimeNs], [0o600, 5, 6, t, t]);
  }));

Deno.test("readdir offsets resume a listing of many entries", () =>
  withFs(async (fs) => {
    for (let i = 0; i < 300; i++) {
      const { attr, fh } = await fs.create(ROOT_INO, n(`f${i}`), 0o644, 2, ROOT_CALLER);
      await fs.release(attr.ino, fh);
    }
    const dh = await fs.opendir(ROOT_INO);
    const seen: string[] = [];
    let off = 0n;
    for (;;) {
      const page = await fs.readdir(ROOT_INO, dh, off, 17);
      if (page.length === 0) break;
      for (const e of page) seen.push(dec.decode(e.name));
      off = page[page.length - 1].next;
    }
    assertEquals(seen.length, 302);
    assertEquals(new Set(seen).size, 302);
  }));

Deno.test("a set-group-ID directory passes its group on, and S_ISGID to subdirectories", () =>
  withFs(async (fs) => {
    const d = await fs.mkdir(ROOT_INO, n("shared"), 0o775, ROOT_CALLER);
    await fs.setattr(d.ino, { gid: 1234, mode: 0o2775 });
    const { attr: f, fh } = await fs.create(d.ino, n("f"), 0o644, 2, { uid: 5, gid: 6 });
    await fs.release(f.ino, fh);
    assertEquals(f.gid, 1234);
    const sub = await fs.mkdir(d.ino, n("sub"), 0o755, { uid: 5, gid: 6 });
    assertEquals([sub.gid, sub.mode & 0o2000], [1234, 0o2000]);
  }));
