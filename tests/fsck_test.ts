/**
 * fsck on data dirs made with the library and then damaged on purpose: each damage is found
 * (with its plaintext path), a check changes nothing on disk, and --repair leaves a data dir
 * that opens, lists everywhere and checks clean. Two cases drive the CLI as a subprocess.
 */
import { assertEquals, assertRejects } from "./helpers/assert.ts";
import { assert, hashTree, rencfs } from "./cli_helpers.ts";
import { freshFs, n, PASSWORD, ROOT_CALLER, writeNew } from "./helpers/store.ts";
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { Vault } from "../src/fs/path_api.ts";
import { ROOT_INO, S_IFDIR } from "../src/fs/types.ts";
import { fsck, FsckBusyError, type FsckReport, type ProblemKind } from "../src/fsck/fsck.ts";
import { unlockDataDir } from "../src/store/datadir.ts";
import { DirStore } from "../src/store/dir_store.ts";
import { cloneRecord, type InodeRecord } from "../src/store/inode_record.ts";
import { StoreKeys } from "../src/store/keys.ts";
import { objectPaths } from "../src/store/format/paths.ts";
import { RecordStore } from "../src/store/record_store.ts";
import type { CipherName } from "../src/crypto/aead.ts";

const CS = 4096;
/** chacha20-poly1305 chunk slot: length, nonce, chunk, tag. */
const SLOT = 4 + 12 + CS + 16;
/** Header and two record slots of a regular file's inode file. */
const BASE = 16 + 2 * 4088;
const A_TEXT = "0123456789abcdef".repeat(800); // 12,800 bytes: 4 chunks
const PW_ENV = { RENCFS_PASSWORD: PASSWORD };

interface Sample {
  dir: string;
  docs: bigint;
  sub: bigint;
  a: bigint;
  b: bigint;
}

/**
 * /docs/a.txt (4 chunks), /docs/sub/ (empty), /b hard-linked as /docs/b-link, /sl -> docs/a.txt.
 */
async function sample(formatVersion: 1 | 2 | 3 = 2): Promise<Sample & { recoveryCode: string }> {
  const { fs, dir, recoveryCode } = await freshFs({
    chunkSize: CS,
    formatVersion,
    cipher: "chacha20-poly1305",
  });
  const docs = (await fs.mkdir(ROOT_INO, n("docs"), 0o755, ROOT_CALLER)).ino;
  const sub = (await fs.mkdir(docs, n("sub"), 0o755, ROOT_CALLER)).ino;
  const a = await writeNew(fs, docs, "a.txt", A_TEXT);
  const b = await writeNew(fs, ROOT_INO, "b", "bee");
  await fs.link(b, docs, n("b-link"));
  await fs.symlink(ROOT_INO, n("sl"), n("docs/a.txt"), ROOT_CALLER);
  await fs.close();
  return { dir, docs, sub, a, b, recoveryCode };
}

/** The store's own objects for a data dir, to find and damage its files. */
async function store(dir: string) {
  const { masterKey, header } = await unlockDataDir(dir, { password: PASSWORD });
  const keys = StoreKeys.derive(masterKey, header.cipher as CipherName);
  masterKey.fill(0);
  const records = new RecordStore(dir, keys);
  return {
    keys,
    records,
    dirs: new DirStore(keys, records),
    folder: (ino: bigint) => objectPaths(dir, keys.objectName(ino)).entries,
    record: (ino: bigint) => objectPaths(dir, keys.objectName(ino)).record,
    entry: (parent: bigint, name: string) =>
      `${objectPaths(dir, keys.objectName(parent)).entries}/${keys.entryName(parent, n(name))}`,
  };
}

/** Rewrites the record of inode `ino` (object place) with the store's code, after `edit`. */
async function editRecord(dir: string, ino: bigint, edit: (r: InodeRecord) => void) {
  const s = await store(dir);
  try {
    const place = s.records.objectPlace(ino);
    const l = (await s.records.load(place))!;
    const r = cloneRecord(l.rec);
    edit(r);
    r.seq = l.rec.seq + 1n;
    await s.records.update(r, l.slot === 0 ? 1 : 0, l.slotSize, place);
  } finally {
    s.keys.wipe();
  }
}

function kinds(r: FsckReport): ProblemKind[] {
  return r.problems.map((p) => p.kind).sort();
}

/** Checks `dir` and asserts it is clean. */
async function assertClean(dir: string): Promise<void> {
  const r = await fsck(dir, { password: PASSWORD });
  assertEquals(r.problems.map((p) => `${p.kind}: ${p.where}: ${p.detail}`), []);
  assert(r.clean);
}

/**
 * Opens `dir` with EncryptedFs and walks it all: every directory lists, every name stats,
 * every file reads (unless listed in `unreadable`), and no damaged object is reported.
 */
async function assertHealthy(dir: string, unreadable: string[] = []): Promise<string[]> {
  const damaged: string[] = [];
  const fs = await EncryptedFs.open(dir, { password: PASSWORD }, {
    onDamaged: (p, why) => damaged.push(`${p}: ${why}`),
  });
  const seen: string[] = [];
  try {
    const v = new Vault(fs);
    const walk = async (path: string): Promise<void> => {
      for await (const e of v.readDir(path)) {
        const p = `${path === "/" ? "" : path}/${e.name}`;
        seen.push(p);
        await v.stat(p);
        if (e.isDirectory) await walk(p);
        else if (e.isFile && !unreadable.includes(p)) await v.readFile(p);
      }
    };
    await walk("/");
  } finally {
    await fs.close();
  }
  assertEquals(damaged, []);
  return seen.sort();
}

async function flip(path: string, at: number): Promise<void> {
  const bytes = await Deno.readFile(path);
  bytes[at] ^= 0x40;
  await Deno.writeFile(path, bytes);
}

Deno.test("fsck of an undamaged data dir finds nothing and changes nothing", async () => {
  for (const version of [3, 2, 1] as const) {
    const s = await sample(version);
    const before = await hashTree(s.dir);
    const r = await fsck(s.dir, { password: PASSWORD });
    assertEquals(r.problems, []);
    assert(r.clean);
    assertEquals(r.stats.directories, 3);
    assertEquals(r.stats.files, 2);
    assertEquals(r.stats.symlinks, 1);
    assertEquals(r.stats.chunks, 5);
    assertEquals(await hashTree(s.dir), before);
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("CLI: fsck of a clean data dir exits 0; a bit-flipped chunk exits 7 and is named", async () => {
  const help = await rencfs(["fsck", "--help"]);
  assertEquals(help.code, 0);
  assert(help.stdout.includes("Usage: rencfs fsck --data-dir DIR [--repair]"), help.stdout);
  const s = await sample();
  const clean = await rencfs(["fsck", "--data-dir", s.dir], { env: PW_ENV });
  assertEquals(clean.code, 0, clean.stderr);
  assert(clean.stdout.includes("no problems found"), clean.stdout);
  assertEquals(clean.stderr, "", "no progress bar when stderr is not a terminal");
  const byCode = await rencfs(["fsck", "-d", s.dir, "--recovery-code"], {
    env: { RENCFS_RECOVERY_CODE: s.recoveryCode },
  });
  assertEquals(byCode.code, 0, byCode.stderr);

  const st = await store(s.dir);
  const aFile = st.entry(s.docs, "a.txt");
  st.keys.wipe();
  await flip(aFile, BASE + SLOT + 100); // chunk 1
  const before = await hashTree(s.dir);
  const r = await rencfs(["fsck", "-d", s.dir], { env: PW_ENV });
  assertEquals(r.code, 7, r.stdout + r.stderr);
  const line = r.stdout.split("\n").find((l) => l.startsWith("damaged-chunk: /docs/a.txt: "));
  assert(line?.includes("1 of 4 chunks") && line.includes("chunk 1 of o/"), r.stdout);
  assert(r.stdout.includes("1 problem found: damaged-chunk 1"), r.stdout);
  assertEquals(await hashTree(s.dir), before, "a check changes nothing");

  // Lost data cannot be repaired: still exit 7, and still nothing else touched.
  const rep = await rencfs(["fsck", "-d", s.dir, "--repair"], { env: PW_ENV });
  assertEquals(rep.code, 7, rep.stdout + rep.stderr);
  assert(rep.stdout.includes("-> not repairable"), rep.stdout);
  assertEquals(await hashTree(s.dir), before);
  await assertHealthy(s.dir, ["/docs/a.txt"]);
  await Deno.remove(s.dir, { recursive: true });
});

Deno.test("CLI: --repair removes debris and trash leftovers, then exits 0", async () => {
  const s = await sample();
  const st = await store(s.dir);
  const rootFolder = st.folder(ROOT_INO);
  const shard = rootFolder.slice(0, rootFolder.lastIndexOf("/"));
  st.keys.wipe();
  const debris = [
    `${rootFolder}/${"a".repeat(26)}.tmp-abcdefghij`,
    `${shard}/${"b".repeat(26)}.m.tmp-abcdefghij`,
    `${s.dir}/rencfs.conf.tmp-abcdefghij`,
    `${s.dir}/t/${"c".repeat(16)}`,
  ];
  for (const p of debris) await Deno.writeTextFile(p, "junk");
  await Deno.mkdir(`${s.dir}/t/${"d".repeat(16)}`);
  await Deno.writeTextFile(`${s.dir}/t/${"d".repeat(16)}/x`, "junk");
  // An entry file renamed into place whose bytes never reached the disk.
  await Deno.writeFile(`${rootFolder}/${"e".repeat(26)}`, new Uint8Array(0));

  const check = await rencfs(["fsck", "-d", s.dir], { env: PW_ENV });
  assertEquals(check.code, 7, check.stdout);
  assert(check.stdout.includes("6 problems found: debris 5, dangling-entry 1"), check.stdout);

  const r = await rencfs(["fsck", "-d", s.dir, "--repair"], { env: PW_ENV });
  assertEquals(r.code, 0, r.stdout + r.stderr);
  assert(r.stdout.includes("debris: rencfs.conf.tmp-abcdefghij: "), r.stdout);
  assert(r.stdout.includes("-> removed"), r.stdout);
  assert(r.stdout.includes("repaired 6 of 6"), r.stdout);
  assert(r.stdout.includes("the data dir is now clean"), r.stdout);
  for (const p of debris) assert(!(await exists(p)), p);
  assertEquals([...Deno.readDirSync(`${s.dir}/t`)], []);
  await assertClean(s.dir);
  await assertHealthy(s.dir);
  await Deno.remove(s.dir, { recursive: true });
});

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.lstat(p);
    return true;
  } catch {
    return false;
  }
}

Deno.test("a zeroed directory record is rebuilt with its entries; a blank one is dropped", async () => {
  const s = await sample();
  const st = await store(s.dir);
  const docsRec = st.record(s.docs);
  const subRec = st.record(s.sub);
  st.keys.wipe();
  const size = (await Deno.stat(docsRec)).size;
  await Deno.writeFile(docsRec, new Uint8Array(size)); // zeroed: /docs still holds entries
  await Deno.truncate(subRec, 0); // empty, and /docs/sub holds nothing: a creation cut short

  const before = await hashTree(s.dir);
  const r = await fsck(s.dir, { password: PASSWORD });
  assertEquals(await hashTree(s.dir), before);
  assertEquals(kinds(r), ["damaged", "dangling-entry"]);
  const [docs] = r.problems.filter((p) => p.kind === "damaged");
  assertEquals(docs.where, "/docs");
  assert(docs.detail.includes("was never written; its folder holds 3 entries"), docs.detail);
  assertEquals(r.problems.find((p) => p.kind === "dangling-entry")!.where, "/docs/sub");

  const fixed = await fsck(s.dir, { password: PASSWORD }, { repair: true });
  assert(fixed.clean, JSON.stringify(fixed.remaining));
  assert(fixed.problems.every((p) => p.repaired));
  await assertClean(s.dir);
  assertEquals(await assertHealthy(s.dir), ["/b", "/docs", "/docs/a.txt", "/docs/b-link", "/sl"]);
  const fs = await EncryptedFs.open(s.dir, { password: PASSWORD });
  const v = new Vault(fs);
  assertEquals(await v.readTextFile("/docs/a.txt"), A_TEXT);
  assertEquals((await v.stat("/docs")).mode & 0o7777, 0o700);
  await fs.close();
  await Deno.remove(s.dir, { recursive: true });
});

Deno.test("pointer entries whose .m was deleted are removed, and the counts follow", async () => {
  const s = await sample();
  const st = await store(s.dir);
  await Deno.remove(st.record(s.b)); // /b and /docs/b-link both point at it
  st.keys.wipe();
  const r = await fsck(s.dir, { password: PASSWORD });
  assertEquals(kinds(r), ["dangling-entry", "dangling-entry", "dir-counts", "dir-counts"]);
  assertEquals(
    r.problems.filter((p) => p.kind === "dangling-entry").map((p) => p.where).sort(),
    ["/b", "/docs/b-link"],
  );
  assert(!r.clean);
  const fixed = await fsck(s.dir, { password: PASSWORD }, { repair: true });
  assert(fixed.clean, JSON.stringify(fixed.remaining));
  await assertClean(s.dir);
  assertEquals(await assertHealthy(s.dir), ["/docs", "/docs/a.txt", "/docs/sub", "/sl"]);
  await Deno.remove(s.dir, { recursive: true });
});

Deno.test("wrong nlink and subdirs counts are fixed through the store's record code", async () => {
  const s = await sample();
  await editRecord(s.dir, s.b, (r) => r.nlink = 5);
  await editRecord(s.dir, s.docs, (r) => r.subdirs = 7);
  const before = await hashTree(s.dir);
  const r = await fsck(s.dir, { password: PASSWORD });
  assertEquals(await hashTree(s.dir), before);
  assertEquals(kinds(r), ["dir-counts", "nlink"]);
  const nlink = r.problems.find((p) => p.kind === "nlink")!;
  assert(["/b", "/docs/b-link"].includes(nlink.where), nlink.where);
  assert(nlink.detail.includes("counts 5 links, 2 names"), nlink.detail);
  const counts = r.problems.find((p) => p.kind === "dir-counts")!;
  assertEquals(counts.where, "/docs");
  assert(counts.detail.includes("7 subdirectories (has 1)"), counts.detail);

  const fixed = await fsck(s.dir, { password: PASSWORD }, { repair: true });
  assert(fixed.clean);
  await assertClean(s.dir);
  const fs = await EncryptedFs.open(s.dir, { password: PASSWORD });
  assertEquals((await fs.getattr(s.b)).nlink, 2);
  assertEquals((await fs.getattr(s.docs)).nlink, 3);
  await fs.close();
  await assertHealthy(s.dir);
  await Deno.remove(s.dir, { recursive: true });
});

Deno.test("tampered entries are moved to q/ and stop failing their directory's listing", async () => {
  const s = await sample();
  const st = await store(s.dir);
  const bEntry = st.entry(ROOT_INO, "b"); // a pointer (b is hard-linked)
  const slEntry = st.entry(ROOT_INO, "sl"); // a symlink in its entry file
  st.keys.wipe();
  await flip(bEntry, 30);
  await flip(slEntry, 16 + 4 + 40);
  const r = await fsck(s.dir, { password: PASSWORD });
  // /b's name is gone, so its inode has one name left (/docs/b-link) and root two entries.
  assertEquals(kinds(r), ["damaged", "damaged", "dir-counts", "nlink"]);
  assert(r.problems.filter((p) => p.kind === "damaged").every((p) => p.where.startsWith("o/")));

  const fixed = await fsck(s.dir, { password: PASSWORD }, { repair: true });
  assert(fixed.clean, JSON.stringify(fixed.remaining));
  assertEquals([...Deno.readDirSync(`${s.dir}/q`)].length, 2);
  await assertClean(s.dir);
  assertEquals(await assertHealthy(s.dir), ["/docs", "/docs/a.txt", "/docs/b-link", "/docs/sub"]);
  await Deno.remove(s.dir, { recursive: true });
});

Deno.test("an orphan named by a directory record is reconnected under /lost+found", async () => {
  // /docs/sub moved to /sub by a rename cut short (its record still names /docs as parent),
  // and /docs lost its own name: the parent field is what identifies /docs's inode file.
  const s = await sample();
  const st = await store(s.dir);
  await st.dirs.put(ROOT_INO, st.folder(ROOT_INO), n("sub"), { ino: s.sub, type: S_IFDIR });
  await Deno.remove(st.entry(s.docs, "sub"));
  await Deno.remove(st.entry(ROOT_INO, "docs"));
  st.keys.wipe();

  const r = await fsck(s.dir, { password: PASSWORD });
  // /docs counts /docs/sub, which is now /sub; /b-link in the orphan still counts for /b.
  assertEquals(kinds(r), ["dir-counts", "dir-parent", "orphan"]);
  const orphan = r.problems.find((p) => p.kind === "orphan")!;
  assert(orphan.detail.includes(`directory (inode ${s.docs})`), orphan.detail);
  assertEquals(orphan.fix, `reconnected as /lost+found/#${s.docs}`);

  const fixed = await fsck(s.dir, { password: PASSWORD }, { repair: true });
  assert(fixed.clean, JSON.stringify(fixed.remaining));
  assertEquals(fixed.notes, ["created /lost+found"]);
  await assertClean(s.dir);
  const lf = `/lost+found/#${s.docs}`;
  assertEquals(await assertHealthy(s.dir), [
    "/b",
    "/lost+found",
    lf,
    `${lf}/a.txt`,
    `${lf}/b-link`,
    "/sl",
    "/sub",
  ]);
  const fs = await EncryptedFs.open(s.dir, { password: PASSWORD });
  assertEquals(await new Vault(fs).readTextFile(`${lf}/a.txt`), A_TEXT);
  assertEquals((await fs.getattr(ROOT_INO)).nlink, 4); // docs gone; lost+found and sub
  await fs.close();
  await Deno.remove(s.dir, { recursive: true });
});

Deno.test("an orphan nothing names cannot be decrypted: it goes to q/", async () => {
  // /docs's pointer deleted: no readable object holds its inode number (its entries are
  // sealed for it), so its record cannot be opened. Its empty subdirectory is removed, the
  // rest kept in q/ for a later tool; the tree is consistent again.
  const s = await sample();
  const st = await store(s.dir);
  const docsFolder = st.folder(s.docs);
  await Deno.remove(st.entry(ROOT_INO, "docs"));
  st.keys.wipe();
  const r = await fsck(s.dir, { password: PASSWORD });
  assertEquals(kinds(r), ["dir-counts", "nlink", "orphan", "orphan"]);
  const fixed = await fsck(s.dir, { password: PASSWORD }, { repair: true });
  assert(fixed.clean, JSON.stringify(fixed.remaining));
  const q = [...Deno.readDirSync(`${s.dir}/q`)].map((e) => e.name).sort();
  assertEquals(q.length, 2);
  assert(q.some((name) => name.endsWith(docsFolder.slice(docsFolder.lastIndexOf("/") + 1))));
  await assertClean(s.dir);
  assertEquals(await assertHealthy(s.dir), ["/b", "/sl"]);
  await Deno.remove(s.dir, { recursive: true });
});

Deno.test("fsck refuses a data dir in use: writable mount for a check, any for a repair", async () => {
  const s = await sample();
  const fs = await EncryptedFs.open(s.dir, { password: PASSWORD });
  const busy = (e: unknown) => e instanceof FsckBusyError && /in use/.test(e.message);
  await assertRejects(() => fsck(s.dir, { password: PASSWORD }), busy);
  const cli = await rencfs(["fsck", "-d", s.dir], { env: PW_ENV });
  assertEquals(cli.code, 4);
  assert(cli.stderr.includes("is in use by a writable mount"), cli.stderr);
  await fs.close();
  const ro = await EncryptedFs.open(s.dir, { password: PASSWORD }, { readOnly: true });
  assert((await fsck(s.dir, { password: PASSWORD })).clean);
  await assertRejects(
    () => fsck(s.dir, { password: PASSWORD }, { repair: true }),
    busy,
  );
  await ro.close();
  await Deno.remove(s.dir, { recursive: true });
});

Deno.test("the .m twin left by a hard link cut short is removed, the file kept", async () => {
  // Step (2) of a hard link made the object place a second name of the entry file; the crash
  // came before step (3) turned the entry file into a pointer.
  const s = await sample();
  const st = await store(s.dir);
  const aEntry = st.entry(s.docs, "a.txt");
  const twin = st.record(s.a);
  st.keys.wipe();
  await Deno.mkdir(twin.slice(0, twin.lastIndexOf("/")), { recursive: true });
  await Deno.link(aEntry, twin);
  const r = await fsck(s.dir, { password: PASSWORD });
  assertEquals(kinds(r), ["twin"]);
  assertEquals(r.problems[0].where, "/docs/a.txt");
  assert((await fsck(s.dir, { password: PASSWORD }, { repair: true })).clean);
  assert(!(await exists(twin)));
  await assertClean(s.dir);
  const fs = await EncryptedFs.open(s.dir, { password: PASSWORD });
  assertEquals(await new Vault(fs).readTextFile("/docs/a.txt"), A_TEXT);
  await fs.close();
  await Deno.remove(s.dir, { recursive: true });
});

Deno.test("a directory with two names keeps the one its record's parent names", async () => {
  // A rename of /docs/sub to /moved cut short: the new pointer written, the old one still there.
  for (const recordMoved of [false, true]) {
    const s = await sample();
    const st = await store(s.dir);
    await st.dirs.put(ROOT_INO, st.folder(ROOT_INO), n("moved"), { ino: s.sub, type: S_IFDIR });
    st.keys.wipe();
    if (recordMoved) await editRecord(s.dir, s.sub, (r) => r.parent = ROOT_INO);
    const r = await fsck(s.dir, { password: PASSWORD });
    const extra = r.problems.filter((p) => p.kind === "extra-dir-name");
    assertEquals(extra.map((p) => p.where), [recordMoved ? "/docs/sub" : "/moved"]);
    assert((await fsck(s.dir, { password: PASSWORD }, { repair: true })).clean);
    await assertClean(s.dir);
    const seen = await assertHealthy(s.dir);
    assert(seen.includes(recordMoved ? "/moved" : "/docs/sub"), seen.join(" "));
    assert(!seen.includes(recordMoved ? "/docs/sub" : "/moved"), seen.join(" "));
    await Deno.remove(s.dir, { recursive: true });
  }
});

Deno.test("a truncated root record is rebuilt and the whole tree stays reachable", async () => {
  const s = await sample();
  const st = await store(s.dir);
  const rootRec = st.record(ROOT_INO);
  st.keys.wipe();
  await Deno.truncate(rootRec, 100);
  await assertRejects(() => EncryptedFs.open(s.dir, { password: PASSWORD }), () => true);
  const r = await fsck(s.dir, { password: PASSWORD });
  assertEquals(kinds(r), ["damaged"]);
  assertEquals(r.problems[0].where, "/");
  assert(r.problems[0].detail.includes("does not open"), r.problems[0].detail);
  const fixed = await fsck(s.dir, { password: PASSWORD }, { repair: true });
  assert(fixed.clean, JSON.stringify(fixed.remaining));
  assertEquals([...Deno.readDirSync(`${s.dir}/q`)].length, 1, "the old record is kept in q/");
  await assertClean(s.dir);
  assertEquals(await assertHealthy(s.dir), [
    "/b",
    "/docs",
    "/docs/a.txt",
    "/docs/b-link",
    "/docs/sub",
    "/sl",
  ]);
  await Deno.remove(s.dir, { recursive: true });
});

Deno.test("--repair removes a symlink planted as q/ and never moves anything through it", async () => {
  const s = await sample();
  const elsewhere = await Deno.makeTempDir({ prefix: "rencfs-fsck-elsewhere-" });
  await Deno.symlink(elsewhere, `${s.dir}/q`);
  const st = await store(s.dir);
  await flip(st.entry(ROOT_INO, "sl"), 16 + 4 + 40);
  st.keys.wipe();
  const r = await fsck(s.dir, { password: PASSWORD }, { repair: true });
  assertEquals(kinds(r), ["damaged", "debris", "dir-counts"]);
  assert(r.clean, JSON.stringify(r.remaining));
  assertEquals([...Deno.readDirSync(elsewhere)], []);
  assert((await Deno.lstat(`${s.dir}/q`)).isDirectory);
  assertEquals([...Deno.readDirSync(`${s.dir}/q`)].length, 1);
  await Deno.remove(elsewhere);
  await Deno.remove(s.dir, { recursive: true });
});
