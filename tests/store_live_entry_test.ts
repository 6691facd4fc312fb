// Unlink and rename of a name whose inode is live take that inode from memory instead of reading
// its entry file again (the kernel looked the name up just before). These tests pin that the
// shortcut always lands on the inode that holds the name *now*: after the name moved, was
// reused, hard-linked or exchanged, and that nothing of a removed file is left on disk.
import { assertEquals } from "./helpers/assert.ts";
import { RENAME_EXCHANGE, ROOT_INO } from "../src/fs/types.ts";
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { DirStore } from "../src/store/dir_store.ts";
import {
  expectErrno as errno,
  freshFs,
  inodeFiles,
  n,
  PASSWORD,
  readText as read,
  ROOT_CALLER,
  writeNew as mk,
} from "./helpers/store.ts";

const dec = new TextDecoder();

// What the kernel does before an unlink or rename: look the name up (and keep the inode).
async function looked(fs: EncryptedFs, parent: bigint, name: string): Promise<bigint> {
  const a = await fs.lookup(parent, n(name));
  fs.retain(a.ino);
  return a.ino;
}

Deno.test("unlink of a live name after it moved and the old name was reused removes the new file", async () => {
  const { fs, dir } = await freshFs();
  const x = await mk(fs, ROOT_INO, "a", "first");
  await looked(fs, ROOT_INO, "a");
  await fs.rename(ROOT_INO, n("a"), ROOT_INO, n("b"), 0);
  const y = await mk(fs, ROOT_INO, "a", "second");
  await looked(fs, ROOT_INO, "a");
  await fs.unlink(ROOT_INO, n("a"));
  await errno(fs.lookup(ROOT_INO, n("a")), "ENOENT");
  assertEquals(await read(fs, ROOT_INO, "b"), "first");
  assertEquals((await fs.lookup(ROOT_INO, n("b"))).ino, x);
  fs.forget(y, 1);
  fs.forget(x, 1);
  await fs.close();
  assertEquals((await inodeFiles(dir)).filter((p) => !p.endsWith(".m")).length, 1);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("unlink of a live name that became a hard link keeps the other name", async () => {
  const { fs, dir } = await freshFs();
  const x = await mk(fs, ROOT_INO, "a", "shared");
  await looked(fs, ROOT_INO, "a");
  await fs.link(x, ROOT_INO, n("c"));
  await fs.unlink(ROOT_INO, n("a"));
  await errno(fs.lookup(ROOT_INO, n("a")), "ENOENT");
  assertEquals(await read(fs, ROOT_INO, "c"), "shared");
  assertEquals((await fs.getattr(x)).nlink, 1);
  await fs.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("unlink and rename of live names after an exchange act on what each name holds now", async () => {
  const { fs, dir } = await freshFs();
  await mk(fs, ROOT_INO, "a", "from a");
  await mk(fs, ROOT_INO, "b", "from b");
  await looked(fs, ROOT_INO, "a");
  await looked(fs, ROOT_INO, "b");
  await fs.rename(ROOT_INO, n("a"), ROOT_INO, n("b"), RENAME_EXCHANGE);
  await fs.rename(ROOT_INO, n("b"), ROOT_INO, n("c"), 0);
  assertEquals(await read(fs, ROOT_INO, "c"), "from a");
  await fs.unlink(ROOT_INO, n("a"));
  await errno(fs.lookup(ROOT_INO, n("a")), "ENOENT");
  await errno(fs.lookup(ROOT_INO, n("b")), "ENOENT");
  assertEquals(await read(fs, ROOT_INO, "c"), "from a");
  await fs.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("rm -r pattern: every live name listed, looked up and unlinked leaves no inode file", async () => {
  const { fs, dir } = await freshFs();
  const d = await fs.mkdir(ROOT_INO, n("d"), 0o755, ROOT_CALLER);
  for (let i = 0; i < 300; i++) await mk(fs, d.ino, `f${i}`, `text ${i}`);
  const fh = await fs.opendir(d.ino);
  const listed = await fs.readdir(d.ino, fh, 0n, 1000, true);
  await fs.releasedir(d.ino, fh);
  assertEquals(listed.length, 302);
  for (const e of listed.slice(2)) {
    const ino = await looked(fs, d.ino, dec.decode(e.name));
    await fs.unlink(d.ino, e.name);
    await errno(fs.lookup(d.ino, e.name), "ENOENT");
    fs.forget(ino, 1);
  }
  await fs.rmdir(ROOT_INO, n("d"));
  await fs.close();
  assertEquals((await inodeFiles(dir)).filter((p) => !p.endsWith(".m")).length, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("lookups of names just created or renamed read no entry file", async () => {
  const { fs, dir } = await freshFs();
  const reads: string[] = [];
  const get = DirStore.prototype.get;
  DirStore.prototype.get = function (this: DirStore, ...args: Parameters<typeof get>) {
    reads.push(dec.decode(args[2]));
    return get.apply(this, args);
  };
  try {
    const d = await fs.mkdir(ROOT_INO, n("d"), 0o755, ROOT_CALLER);
    const made: bigint[] = [];
    for (let i = 0; i < 50; i++) made.push(await mk(fs, d.ino, `f${i}`, `text ${i}`));
    await fs.rename(d.ino, n("f0"), ROOT_INO, n("moved"), 0);
    reads.length = 0;
    for (let i = 1; i < 50; i++) assertEquals((await fs.lookup(d.ino, n(`f${i}`))).ino, made[i]);
    assertEquals((await fs.lookup(ROOT_INO, n("moved"))).ino, made[0]);
    assertEquals(reads, []);
    // The old name is gone, read from disk: the shortcut never answers for a moved name.
    await errno(fs.lookup(d.ino, n("f0")), "ENOENT");
    assertEquals(reads, ["f0"]);
    assertEquals(await read(fs, ROOT_INO, "moved"), "text 0");
  } finally {
    DirStore.prototype.get = get;
  }
  await fs.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("listings answer live names from memory and stay exact after renames, links and unlinks", async () => {
  const { fs, dir } = await freshFs();
  const readFiles: string[] = [];
  const read = DirStore.prototype.read;
  DirStore.prototype.read = function (this: DirStore, ...args: Parameters<typeof read>) {
    readFiles.push(...args[2]);
    return read.apply(this, args);
  };
  const list = async (ino: bigint) => {
    const fh = await fs.opendir(ino);
    const out = await fs.readdir(ino, fh, 0n, 1000, true);
    await fs.releasedir(ino, fh);
    return out.slice(2).map((e) => `${dec.decode(e.name)}:${e.ino}`).sort();
  };
  try {
    const d = await fs.mkdir(ROOT_INO, n("d"), 0o755, ROOT_CALLER);
    const ino = new Map<string, bigint>();
    for (let i = 0; i < 40; i++) ino.set(`f${i}`, await mk(fs, d.ino, `f${i}`, `t${i}`));
    readFiles.length = 0;
    assertEquals((await list(d.ino)).length, 40);
    assertEquals(readFiles, []);
    // Moved away, moved in over another name, hard-linked (its inode leaves the entry file),
    // exchanged and unlinked: the listing must show what each name holds now.
    await fs.rename(d.ino, n("f0"), ROOT_INO, n("out"), 0);
    await fs.rename(d.ino, n("f1"), d.ino, n("f2"), 0);
    await fs.link(ino.get("f3")!, d.ino, n("f3b"));
    await fs.rename(d.ino, n("f4"), d.ino, n("f5"), RENAME_EXCHANGE);
    await fs.unlink(d.ino, n("f6"));
    const want = new Map(ino);
    want.delete("f0");
    want.delete("f6");
    want.set("f2", ino.get("f1")!);
    want.delete("f1");
    want.set("f3b", ino.get("f3")!);
    want.set("f4", ino.get("f5")!);
    want.set("f5", ino.get("f4")!);
    const expected = [...want].map(([k, v]) => `${k}:${v}`).sort();
    assertEquals(await list(d.ino), expected);
    // Only the names whose inode is not in an entry file any more were read.
    assertEquals(readFiles.length > 0 && readFiles.length <= 4, true, `read ${readFiles.length}`);
    await fs.close();
    // Reopened, every entry file is read: the files agree with what memory answered.
    const again = await EncryptedFs.open(dir, { password: PASSWORD });
    const fh = await again.opendir(d.ino);
    const out = await again.readdir(d.ino, fh, 0n, 1000, false);
    await again.releasedir(d.ino, fh);
    await again.close();
    assertEquals(out.slice(2).map((e) => `${dec.decode(e.name)}:${e.ino}`).sort(), expected);
  } finally {
    DirStore.prototype.read = read;
  }
  await Deno.remove(dir, { recursive: true });
});
