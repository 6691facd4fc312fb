// Format 2 keeps an inode with one name (not a directory) in that name's entry file: one
// backing file per file. These tests pin what that must preserve: renames that survive a crash
// at either step, hard links, open files losing their name, and format 1 data dirs.
import { assertEquals } from "./helpers/assert.ts";
import { RENAME_EXCHANGE, ROOT_INO } from "../src/fs/types.ts";
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import {
  expectErrno as errno,
  freshFs,
  inodeFiles,
  n,
  PASSWORD,
  readText as read,
  ROOT_CALLER,
  walkFiles,
  writeNew as mk,
} from "./helpers/store.ts";

const dec = new TextDecoder();

// Non-root inode files: in format 2, the regular files' entry files.
async function fileObjects(dir: string): Promise<string[]> {
  const all = await inodeFiles(dir);
  return all.filter((p) => !p.endsWith(".m"));
}

Deno.test("format 2: a regular file, symlink or fifo is one backing file, its entry file", async () => {
  const { fs, dir } = await freshFs();
  const before = (await walkFiles(dir)).length;
  const d = await fs.mkdir(ROOT_INO, n("d"), 0o755, ROOT_CALLER);
  const afterDir = (await walkFiles(dir)).length;
  for (let i = 0; i < 20; i++) await mk(fs, d.ino, `f${i}`, `text ${i}`.repeat(i * 1000));
  await fs.symlink(d.ino, n("link"), n("f1"), ROOT_CALLER);
  await fs.mknod(d.ino, n("fifo"), 0o10644, 0, ROOT_CALLER);
  await fs.close();
  // A directory: its record object and its entry (a pointer) in the parent.
  assertEquals(afterDir - before, 2);
  assertEquals((await walkFiles(dir)).length - afterDir, 22);
  assertEquals((await fileObjects(dir)).length, 22);
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  for (let i = 0; i < 20; i++) {
    assertEquals(await read(fs2, d.ino, `f${i}`), `text ${i}`.repeat(i * 1000));
  }
  assertEquals(dec.decode(await fs2.readlink((await fs2.lookup(d.ino, n("link"))).ino)), "f1");
  await fs2.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a rename interrupted before or after its one rename(2) reads as before or after", async () => {
  const { fs, dir } = await freshFs();
  const d = await fs.mkdir(ROOT_INO, n("d"), 0o755, ROOT_CALLER);
  await mk(fs, ROOT_INO, "a", "content of a");
  // Made durable first (a crash may lose writes not yet synced, as on a local filesystem).
  await fs.syncAll();
  const [aPath] = await fileObjects(dir);
  await fs.rename(ROOT_INO, n("a"), d.ino, n("b"), 0);
  await fs.close();
  const [bPath] = await fileObjects(dir);
  assertEquals(aPath !== bPath, true);
  // After: the file reads under its new name only.
  let fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  assertEquals(await read(fs2, d.ino, "b"), "content of a");
  await errno(fs2.lookup(ROOT_INO, n("a")), "ENOENT");
  await fs2.close();
  // Before: the new record was written into the free slot but the file never moved. The slot
  // sealed for the new name does not open at the old one: the old name reads as it was.
  await Deno.rename(bPath, aPath);
  fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  assertEquals(await read(fs2, ROOT_INO, "a"), "content of a");
  await errno(fs2.lookup(d.ino, n("b")), "ENOENT");
  // And the name still renames normally from there.
  await fs2.rename(ROOT_INO, n("a"), ROOT_INO, n("c"), 0);
  assertEquals(await read(fs2, ROOT_INO, "c"), "content of a");
  await fs2.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an entry file copied to another name fails to open there (EIO), the rest is fine", async () => {
  const { fs, dir } = await freshFs();
  await mk(fs, ROOT_INO, "a", "AAAA");
  await mk(fs, ROOT_INO, "b", "BBBB");
  await fs.close();
  const [p1, p2] = await fileObjects(dir);
  const b1 = await Deno.readFile(p1);
  const b2 = await Deno.readFile(p2);
  await Deno.writeFile(p1, b2);
  await Deno.writeFile(p2, b1);
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  await errno(fs2.lookup(ROOT_INO, n("a")), "EIO");
  await errno(fs2.lookup(ROOT_INO, n("b")), "EIO");
  await fs2.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a hard link moves the inode to its object; both names share data, before and after reopening", async () => {
  const { fs, dir } = await freshFs();
  const d = await fs.mkdir(ROOT_INO, n("d"), 0o755, ROOT_CALLER);
  const ino = await mk(fs, ROOT_INO, "a", "shared");
  // Open across the conversion: the descriptor keeps working.
  const fh = await fs.open(ino, 2);
  await fs.link(ino, d.ino, n("b"));
  await fs.write(ino, fh, 6, n(" data"));
  await fs.release(ino, fh);
  assertEquals(await read(fs, d.ino, "b"), "shared data");
  assertEquals((await fs.getattr(ino)).nlink, 2);
  await fs.close();
  // No inode lives in an entry file any more: the record is an object, both names point at it.
  assertEquals((await fileObjects(dir)).length, 0);
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  assertEquals(await read(fs2, ROOT_INO, "a"), "shared data");
  assertEquals(await read(fs2, d.ino, "b"), "shared data");
  await fs2.unlink(ROOT_INO, n("a"));
  assertEquals((await fs2.lookup(d.ino, n("b"))).nlink, 1);
  await fs2.rename(d.ino, n("b"), ROOT_INO, n("c"), 0);
  assertEquals(await read(fs2, ROOT_INO, "c"), "shared data");
  await fs2.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an open file replaced by rename or unlinked keeps its data until released, then its file is gone", async () => {
  const { fs, dir } = await freshFs();
  const victim = await mk(fs, ROOT_INO, "victim", "old content");
  await mk(fs, ROOT_INO, "new", "new content");
  const fh = await fs.open(victim, 0);
  await fs.rename(ROOT_INO, n("new"), ROOT_INO, n("victim"), 0);
  assertEquals(await read(fs, ROOT_INO, "victim"), "new content");
  assertEquals(dec.decode(await fs.read(victim, fh, 0, 100)), "old content");
  // Unlinked while open, never read before: the data is still there.
  const t = await mk(fs, ROOT_INO, "t", "temporary");
  const th = await fs.open(t, 2);
  await fs.unlink(ROOT_INO, n("t"));
  await fs.write(t, th, 0, n("T"));
  assertEquals(dec.decode(await fs.read(t, th, 0, 100)), "Temporary");
  await fs.fsync(t, th, false);
  await fs.release(t, th);
  await fs.release(victim, fh);
  await fs.close();
  // Only "victim" (now the new content) is left; the two old files went with their releases.
  assertEquals((await fileObjects(dir)).length, 1);
  assertEquals([...Deno.readDirSync(`${dir}/t`)].length, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("exchange of a file in its entry file with a directory or another file", async () => {
  const { fs, dir } = await freshFs();
  const d = await fs.mkdir(ROOT_INO, n("d"), 0o755, ROOT_CALLER);
  await mk(fs, d.ino, "inner", "in d");
  await mk(fs, ROOT_INO, "f", "F");
  await mk(fs, ROOT_INO, "g", "G");
  await fs.rename(ROOT_INO, n("f"), ROOT_INO, n("d"), RENAME_EXCHANGE);
  assertEquals(await read(fs, ROOT_INO, "d"), "F");
  assertEquals(await read(fs, (await fs.lookup(ROOT_INO, n("f"))).ino, "inner"), "in d");
  await fs.rename(ROOT_INO, n("d"), ROOT_INO, n("g"), RENAME_EXCHANGE);
  assertEquals([await read(fs, ROOT_INO, "d"), await read(fs, ROOT_INO, "g")], ["G", "F"]);
  await fs.close();
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  assertEquals([await read(fs2, ROOT_INO, "d"), await read(fs2, ROOT_INO, "g")], ["G", "F"]);
  await fs2.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a format 1 data dir (rencfs 0.1) opens and keeps format 1: every inode an object", async () => {
  const { fs, dir } = await freshFs({ formatVersion: 1 });
  await mk(fs, ROOT_INO, "a", "format one");
  await fs.rename(ROOT_INO, n("a"), ROOT_INO, n("b"), 0);
  await fs.close();
  const conf = JSON.parse(await Deno.readTextFile(`${dir}/rencfs.conf`));
  assertEquals(conf.version, 1);
  assertEquals((await fileObjects(dir)).length, 0);
  assertEquals((await inodeFiles(dir)).length, 2);
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  assertEquals(await read(fs2, ROOT_INO, "b"), "format one");
  await mk(fs2, ROOT_INO, "c", "still format one");
  await fs2.close();
  assertEquals((await fileObjects(dir)).length, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an empty or zero-headed entry file (a creation cut short by a power cut) reads as absent", async () => {
  const { fs, dir } = await freshFs();
  await mk(fs, ROOT_INO, "a", "A");
  await mk(fs, ROOT_INO, "b", "B");
  await fs.close();
  const [p1, p2] = await fileObjects(dir);
  await Deno.writeFile(p1, new Uint8Array(0));
  await Deno.writeFile(p2, new Uint8Array(300));
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  await errno(fs2.lookup(ROOT_INO, n("a")), "ENOENT");
  await errno(fs2.lookup(ROOT_INO, n("b")), "ENOENT");
  const fh = await fs2.opendir(ROOT_INO);
  assertEquals((await fs2.readdir(ROOT_INO, fh, 0n, 100)).length, 2, ". and .. only");
  await fs2.releasedir(ROOT_INO, fh);
  // The name can be created again: the debris is replaced.
  await mk(fs2, ROOT_INO, "a", "again");
  assertEquals(await read(fs2, ROOT_INO, "a"), "again");
  await fs2.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a file the kernel still knows, unlinked or renamed over before its open arrives, still opens and reads", async () => {
  const { fs, dir } = await freshFs();
  const x = await mk(fs, ROOT_INO, "x", "first version");
  const y = await mk(fs, ROOT_INO, "y", "to be unlinked");
  await mk(fs, ROOT_INO, "tmp", "second version");
  fs.retain(x); // the kernel holds a lookup of each (an open() is on its way)
  fs.retain(y);
  await fs.rename(ROOT_INO, n("tmp"), ROOT_INO, n("x"), 0);
  await fs.unlink(ROOT_INO, n("y"));
  for (const [ino, text] of [[x, "first version"], [y, "to be unlinked"]] as const) {
    const fh = await fs.open(ino, 2);
    assertEquals(dec.decode(await fs.read(ino, fh, 0, 100)), text);
    await fs.write(ino, fh, 0, n("F"));
    assertEquals(dec.decode(await fs.read(ino, fh, 0, 1)), "F");
    await fs.release(ino, fh);
    fs.forget(ino, 1);
  }
  assertEquals(await read(fs, ROOT_INO, "x"), "second version");
  await fs.close();
  // Nothing of the two old files is left: one entry file, for "x".
  assertEquals((await fileObjects(dir)).length, 1);
  assertEquals([...Deno.readDirSync(`${dir}/t`)].length, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parallel listings and lookups read each entry file's own bytes (one shared read buffer)", async () => {
  const { fs, dir } = await freshFs();
  const dirs: bigint[] = [];
  for (let d = 0; d < 4; d++) {
    const a = await fs.mkdir(ROOT_INO, n(`d${d}`), 0o755, ROOT_CALLER);
    dirs.push(a.ino);
    for (let i = 0; i < 80; i++) await mk(fs, a.ino, `d${d}-f${i}`, `content ${d} ${i}`);
    // A pointer entry too (a hard link), read through the same buffer.
    await fs.link((await fs.lookup(a.ino, n(`d${d}-f0`))).ino, a.ino, n(`d${d}-link`));
  }
  await fs.close();
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  const listings = dirs.map(async (ino, d) => {
    const fh = await fs2.opendir(ino);
    const got = await fs2.readdir(ino, fh, 0n, 1000, d % 2 === 0);
    await fs2.releasedir(ino, fh);
    return got.map((e) => dec.decode(e.name)).filter((s) => !s.startsWith(".")).sort();
  });
  const lookups = dirs.flatMap((ino, d) =>
    Array.from({ length: 80 }, async (_, i) => {
      const a = await fs2.lookup(ino, n(`d${d}-f${i}`));
      return a.size === `content ${d} ${i}`.length;
    })
  );
  const [lists, sizes] = await Promise.all([Promise.all(listings), Promise.all(lookups)]);
  lists.forEach((names, d) => {
    const want = [...Array.from({ length: 80 }, (_, i) => `d${d}-f${i}`), `d${d}-link`].sort();
    assertEquals(names, want);
  });
  assertEquals(sizes.every((ok) => ok), true);
  for (let d = 0; d < 4; d++) assertEquals(await read(fs2, dirs[d], `d${d}-f7`), `content ${d} 7`);
  await fs2.close();
  await Deno.remove(dir, { recursive: true });
});
