/**
 * A new file's entry file is made in place, under its final name with O_EXCL (no temporary file,
 * no rename, no read of the entry file first): what a crash leaves of such a creation reads as
 * absent, can be created over and is removed by fsck; an existing name still answers EEXIST;
 * what does not fit one page (a long symlink) still goes whole by rename. The folder's times go
 * back to the epoch once for a burst of creations (FolderSettler), at the latest at close.
 */
import { ok as assert } from "node:assert/strict";
import { assertEquals } from "./helpers/assert.ts";
import {
  expectErrno,
  freshFs,
  listNames,
  n,
  PASSWORD,
  readText,
  ROOT_CALLER,
  walkFiles,
  writeNew,
} from "./helpers/store.ts";
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { fsck } from "../src/fsck/fsck.ts";
import { FolderSettler } from "../src/store/backing_times.ts";

const dec = new TextDecoder();

const names = listNames;

/** Runs `make`, which creates one name; returns the one file it added to data dir `dir`. */
async function newFileOf(dir: string, make: () => Promise<unknown>) {
  const before = new Set(await walkFiles(dir));
  await make();
  const added = (await walkFiles(dir)).filter((p) => !before.has(p));
  assertEquals(added.length, 1, `new files: ${added.join(", ")}`);
  return added[0];
}

Deno.test("a creation cut short in place (empty entry file) reads as absent, can be redone, and fsck removes it", async () => {
  const { fs, dir } = await freshFs();
  await writeNew(fs, ROOT_INO, "kept", "kept");
  const cut = await newFileOf(dir, () => writeNew(fs, ROOT_INO, "cut", "x"));
  const again = await newFileOf(dir, () => writeNew(fs, ROOT_INO, "again", "y"));
  await fs.close();
  // What a kill between the open(O_CREAT|O_EXCL) and the write leaves, and what a power cut
  // leaves of a file whose bytes had not reached the disk.
  await Deno.writeFile(cut, new Uint8Array(0));
  await Deno.writeFile(again, new Uint8Array(0));

  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  try {
    await expectErrno(fs2.lookup(ROOT_INO, n("cut")), "ENOENT");
    assertEquals(await names(fs2, ROOT_INO), ["kept"]);
    // The name is free: the create finds the file there (O_EXCL fails), sees it names nothing,
    // and replaces it whole.
    await writeNew(fs2, ROOT_INO, "again", "made again");
    assertEquals(await readText(fs2, ROOT_INO, "again"), "made again");
    assertEquals(await names(fs2, ROOT_INO), ["again", "kept"]);
  } finally {
    await fs2.close();
  }
  assert(!(await walkFiles(dir)).some((p) => p.includes(".tmp-")), "temporary debris left");
  const r = await fsck(dir, { password: PASSWORD });
  const dangling = r.problems.filter((p) => p.kind === "dangling-entry").map((p) => p.where);
  assertEquals(dangling, [cut.slice(dir.length + 1)]);
  const fixed = await fsck(dir, { password: PASSWORD }, { repair: true });
  assert(fixed.clean, JSON.stringify(fixed.remaining));
  assert(!(await walkFiles(dir)).includes(cut), "the empty entry file is still there");
  const fs3 = await EncryptedFs.open(dir, { password: PASSWORD });
  try {
    assertEquals(await names(fs3, ROOT_INO), ["again", "kept"]);
    assertEquals(await readText(fs3, ROOT_INO, "kept"), "kept");
  } finally {
    await fs3.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("creating an existing name answers EEXIST, live or read back from disk, and changes nothing", async () => {
  const { fs, dir } = await freshFs();
  await writeNew(fs, ROOT_INO, "f", "first");
  await fs.symlink(ROOT_INO, n("l"), n("f"), ROOT_CALLER);
  await expectErrno(fs.create(ROOT_INO, n("f"), 0o644, 2, ROOT_CALLER), "EEXIST");
  await expectErrno(fs.mknod(ROOT_INO, n("l"), 0o644, 0, ROOT_CALLER), "EEXIST");
  await fs.close();
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  try {
    // Nothing live: the name is known only from its entry file.
    await expectErrno(fs2.create(ROOT_INO, n("f"), 0o644, 2, ROOT_CALLER), "EEXIST");
    await expectErrno(fs2.symlink(ROOT_INO, n("l"), n("x"), ROOT_CALLER), "EEXIST");
    assertEquals(await readText(fs2, ROOT_INO, "f"), "first");
    const l = await fs2.lookup(ROOT_INO, n("l"));
    assertEquals(dec.decode(await fs2.readlink(l.ino)), "f");
  } finally {
    await fs2.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a regular file's new entry file fits one page (made in place); a long symlink is made whole", async () => {
  const { fs, dir } = await freshFs();
  const longest = "n".repeat(255);
  let fh = 0;
  const file = await newFileOf(dir, async () => {
    fh = (await fs.create(ROOT_INO, n(longest), 0o644, 2, ROOT_CALLER)).fh;
  });
  // Larger than one page, a new file is written by rename instead (never torn): regular files
  // must stay below it, or every creation pays the rename again. (Measured before the first
  // record update, which goes to slot 1, past the first page.)
  const size = (await Deno.stat(file)).size;
  assert(size > 0 && size <= 4096, `${size} bytes`);
  await fs.release((await fs.lookup(ROOT_INO, n(longest))).ino, fh);
  const target = "t/".repeat(2000);
  const link = await newFileOf(dir, () => fs.symlink(ROOT_INO, n("long"), n(target), ROOT_CALLER));
  assert((await Deno.stat(link)).size > 4096);
  await fs.close();
  assert(!(await walkFiles(dir)).some((p) => p.includes(".tmp-")), "temporary debris left");
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  try {
    const l = await fs2.lookup(ROOT_INO, n("long"));
    assertEquals(dec.decode(await fs2.readlink(l.ino)), target);
    assertEquals(await readText(fs2, ROOT_INO, longest), "");
  } finally {
    await fs2.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a folder changed by creations goes back to the epoch once, after the delay or at flush", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rencfs-settle-" });
  try {
    const mtime = () => Deno.statSync(dir).mtime!.getTime();
    const settler = new FolderSettler(100);
    Deno.writeTextFileSync(`${dir}/a`, "a"); // the folder's mtime is now
    settler.later(dir);
    settler.later(dir);
    assertEquals(settler.pending, 1);
    assert(mtime() > 0, "settled at once, not once for the burst");
    await new Promise((r) => setTimeout(r, 300));
    assertEquals([mtime(), settler.pending], [0, 0]);

    Deno.writeTextFileSync(`${dir}/b`, "b");
    settler.later(dir);
    settler.flush(); // at unmount: at once, and no timer left behind
    assertEquals([mtime(), settler.pending], [0, 0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("after a burst of creations and close, the entry folder shows the epoch", async () => {
  const { fs, dir } = await freshFs();
  const sub = await fs.mkdir(ROOT_INO, n("d"), 0o755, ROOT_CALLER);
  const first = await newFileOf(dir, () => writeNew(fs, sub.ino, "f0", ""));
  for (let i = 1; i < 50; i++) await writeNew(fs, sub.ino, `f${i}`, "");
  const folder = first.slice(0, first.lastIndexOf("/"));
  await fs.close();
  const st = Deno.statSync(folder);
  assertEquals([st.atime!.getTime(), st.mtime!.getTime()], [0, 0]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an empty pointer entry (a mkdir cut short) names nothing, and mkdir makes the name again", async () => {
  const { fs, dir } = await freshFs();
  const pointer = await (async () => {
    const before = new Set(await walkFiles(dir));
    await fs.mkdir(ROOT_INO, n("sub"), 0o755, ROOT_CALLER);
    // The new files: the directory's `.m`, and its pointer in the root's folder.
    return (await walkFiles(dir)).filter((p) => !before.has(p) && !p.endsWith(".m"))[0];
  })();
  const sub = await fs.lookup(ROOT_INO, n("sub"));
  await writeNew(fs, sub.ino, "inside", "text");
  await fs.close();
  // A kill between the pointer's open(O_CREAT|O_EXCL) and its write.
  await Deno.writeFile(pointer, new Uint8Array(0));
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  try {
    await expectErrno(fs2.lookup(ROOT_INO, n("sub")), "ENOENT");
    assertEquals(await names(fs2, ROOT_INO), []);
    const again = await fs2.mkdir(ROOT_INO, n("sub"), 0o700, ROOT_CALLER);
    assert(again.ino !== sub.ino);
    assertEquals(await names(fs2, ROOT_INO), ["sub"]);
    assertEquals(await names(fs2, again.ino), []);
  } finally {
    await fs2.close();
  }
  await Deno.remove(dir, { recursive: true });
});
