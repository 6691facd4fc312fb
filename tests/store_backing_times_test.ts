/**
 * The backing files' times carry no trace of when objects were made, changed or read (the tree
 * could otherwise be rebuilt by pairing objects born together): every folder of the data dir
 * shows the epoch as atime and mtime, every file a random instant (atime = mtime) far from the
 * time it was written, after creations (a file created open and closed unwritten too), nested
 * mkdirs, renames, links, removals, writes of one and of several chunks, truncation, attribute
 * changes, listings and reads.
 */
import { ok as assert } from "node:assert/strict";
import { assertEquals } from "./helpers/assert.ts";
import { freshFs, n, PASSWORD, ROOT_CALLER, writeNew } from "./helpers/store.ts";
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { Vault } from "../src/fs/path_api.ts";

interface Times {
  path: string;
  dir: boolean;
  atimeMs: number;
  mtimeMs: number;
}

/**
 * Every path under `root` (relative, `/` first) and the atime and mtime the store left: each
 * folder's are read before this walk lists it, and its atime is put back after.
 */
function backingTimes(root: string): Times[] {
  const out: Times[] = [];
  const walk = (rel: string) => {
    const p = rel === "/" ? root : root + rel;
    const st = Deno.lstatSync(p);
    out.push({
      path: rel,
      dir: st.isDirectory,
      atimeMs: st.atime!.getTime(),
      mtimeMs: st.mtime!.getTime(),
    });
    if (!st.isDirectory) return;
    const names = [...Deno.readDirSync(p)].map((e) => e.name);
    Deno.utimeSync(p, st.atime!, st.mtime!);
    for (const name of names) walk(rel === "/" ? `/${name}` : `${rel}/${name}`);
  };
  walk("/");
  return out;
}

/**
 * atime, mtime and ctime of `paths` (relative to `root`) to the nanosecond, by stat(1): lstat
 * alone, nothing listed (Deno's and node:fs's ctimes have whole seconds only).
 */
async function exactTimes(root: string, paths: string[]): Promise<string[]> {
  const out = await new Deno.Command("stat", {
    args: ["--printf=%.9X %.9Y %.9Z %n\n", ...paths.map((p) => p === "/" ? root : root + p)],
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim().split("\n");
}

/** Asserts that no backing time lies in [from, to] and that folders show the epoch. */
function assertNoTrace(root: string, from: number, to: number): Times[] {
  const all = backingTimes(root);
  for (const t of all) {
    if (t.dir) {
      assertEquals([t.atimeMs, t.mtimeMs], [0, 0], `folder ${t.path}`);
      continue;
    }
    assertEquals(t.atimeMs, t.mtimeMs, `file ${t.path}: atime and mtime differ`);
    assert(t.mtimeMs < from || t.mtimeMs > to, `file ${t.path} shows ${new Date(t.mtimeMs)}`);
  }
  return all;
}

Deno.test("backing times show no order: folders the epoch, files random, after every kind of change", async () => {
  const from = Date.now() - 60_000;
  const { fs, dir } = await freshFs({ chunkSize: 4096 });
  const a = (await fs.mkdir(ROOT_INO, n("a"), 0o755, ROOT_CALLER)).ino;
  const b = (await fs.mkdir(a, n("b"), 0o755, ROOT_CALLER)).ino;
  const c = (await fs.mkdir(b, n("c"), 0o755, ROOT_CALLER)).ino;
  const d = (await fs.mkdir(ROOT_INO, n("d"), 0o755, ROOT_CALLER)).ino;
  const small = await writeNew(fs, c, "small", "x");
  // Many chunks in one write (the chunk worker), a few (the JS thread) and one.
  const { attr, fh } = await fs.create(b, n("big"), 0o644, 2, ROOT_CALLER);
  await fs.write(attr.ino, fh, 0, new Uint8Array(70 * 4096).fill(1));
  await fs.write(attr.ino, fh, 4096, new Uint8Array(3 * 4096).fill(3));
  await fs.write(attr.ino, fh, 100, new Uint8Array(10).fill(2));
  await fs.release(attr.ino, fh);
  // Created open and closed with no write: its descriptor came from the creation.
  const none = await fs.create(c, n("untouched"), 0o644, 2, ROOT_CALLER);
  await fs.release(none.attr.ino, none.fh);
  await fs.setattr(attr.ino, { size: 4096 + 7 }); // truncation
  await fs.rename(b, n("c"), d, n("c2"), 0); // a directory to another parent
  await fs.rename(c, n("small"), a, n("small2"), 0); // a file to another directory
  await fs.link(small, d, n("small-link")); // an `.m` and two pointers
  await fs.setattr(small, { mode: 0o600 });
  await fs.symlink(d, n("sl"), n("../a/small2"), ROOT_CALLER);
  await writeNew(fs, a, "doomed", "y");
  await fs.unlink(a, n("doomed")); // through t/
  const e = (await fs.mkdir(d, n("e"), 0o755, ROOT_CALLER)).ino;
  await fs.rmdir(d, n("e"));
  assert(e > 0n);
  await fs.close();
  const to = Date.now() + 60_000;
  const all = assertNoTrace(dir, from, to);
  assert(all.some((t) => t.path.endsWith(".d")) && all.some((t) => t.path === "/t"));
  const paths = all.map((t) => t.path);
  const before = await exactTimes(dir, paths); // after the walk's own repairs of folder atimes

  // Reads and listings, read-only and writable, leave every time as it was, ctimes included
  // (setting an atime back after a listing would stamp the folder's ctime instead).
  for (const readOnly of [true, false]) {
    const again = await EncryptedFs.open(dir, { password: PASSWORD }, { readOnly });
    const v = new Vault(again);
    const walk = async (p: string): Promise<void> => {
      for await (const x of v.readDir(p)) {
        const child = p === "/" ? `/${x.name}` : `${p}/${x.name}`;
        if (x.isDirectory) await walk(child);
        else if (x.isFile) await v.readFile(child);
        else await v.readLink(child);
      }
    };
    await walk("/");
    await again.close();
    const after = await exactTimes(dir, paths);
    assertEquals(after, before, `after reading (${readOnly ? "ro" : "rw"})`);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("creating a data dir leaves the folders around it as they were", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "rencfs-around-" });
  try {
    const before = Deno.statSync(tmp).mtime!.getTime();
    // Made with missing folders on the way, from a relative path: none of them is the data dir's.
    const cwd = Deno.cwd();
    Deno.chdir(tmp);
    try {
      const { fs } = await EncryptedFs.create("outer/inner/data", PASSWORD, {
        kdfCost: { memoryKiB: 8192, iterations: 1 },
      });
      await fs.close();
    } finally {
      Deno.chdir(cwd);
    }
    const mtime = (p: string) => Deno.statSync(`${tmp}/${p}`).mtime!.getTime();
    assert(mtime("outer") > 0 && mtime("outer/inner") > 0, "folders on the way keep real times");
    assert(Deno.statSync(tmp).mtime!.getTime() >= before, "the folder it was made in: untouched");
    // The data dir and what is inside: the epoch.
    assertEquals(mtime("outer/inner/data"), 0);
    assertEquals(mtime("outer/inner/data/o"), 0);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
