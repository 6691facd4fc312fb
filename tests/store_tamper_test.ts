// An attacker (or a bad disk) changes the data dir: every change is detected as EIO on the
// affected file only, or is a documented limitation (rollback of a whole chunk or file).
import { assertEquals, assertRejects } from "./helpers/assert.ts";
import { DamagedDataDirError, EncryptedFs } from "../src/fs/encrypted_fs.ts";
import type { FsError } from "../src/fs/errors.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { slotOffset } from "../src/store/format/chunk_slot.ts";
import { freshFs, inodeFiles, n, PASSWORD, prng, ROOT_CALLER, walkFiles } from "./helpers/store.ts";

const CS = 4096;
const SLOT = 4 + 8 + 12 + CS + 16; // chacha20-poly1305: length, generation, nonce, chunk, tag
// Two slots per chunk, in groups of 1, 1, 2, 4, … chunks (slot 0 of each, then slot 1 of each):
// where slot `s` of chunk `i` starts, from the content's start.
const LAYOUT = { chunkSize: CS, nonceLength: 12, paired: true };
const slotAt = (i: number, s = 0) => slotOffset(LAYOUT, i, s);
const BASE = 16 + 2 * 4088; // header and two record slots of a regular file's inode file

async function setup() {
  const { fs, dir } = await freshFs({ chunkSize: CS, cipher: "chacha20-poly1305" });
  const put = async (name: string, data: Uint8Array) => {
    const { attr, fh } = await fs.create(ROOT_INO, n(name), 0o644, 2, ROOT_CALLER);
    await fs.write(attr.ino, fh, 0, data);
    await fs.release(attr.ino, fh);
  };
  const r = prng(1);
  const a = new Uint8Array(CS * 3 + 100).map(() => Math.floor(r() * 256));
  const b = new Uint8Array(CS * 3 + 100).map(() => Math.floor(r() * 256));
  const root = new Set(await inodeFiles(dir));
  await put("a", a);
  const aFile = (await inodeFiles(dir)).find((p) => !root.has(p))!;
  await put("b", b);
  await fs.close();
  const bFile = (await inodeFiles(dir)).find((p) => !root.has(p) && p !== aFile)!;
  assertEquals(root.size, 1, "the root directory's record only");
  const [rootFile] = root;
  return { dir, a, b, aFile, bFile, rootFile };
}

async function readAll(dir: string, name: string): Promise<Uint8Array> {
  const fs = await EncryptedFs.open(dir, { password: PASSWORD });
  try {
    const at = await fs.lookup(ROOT_INO, n(name));
    const fh = await fs.open(at.ino, 0);
    try {
      return await fs.read(at.ino, fh, 0, at.size);
    } finally {
      await fs.release(at.ino, fh);
    }
  } finally {
    await fs.close();
  }
}

async function expectEio(dir: string, name: string) {
  await assertRejects(() => readAll(dir, name), (e: unknown) => {
    assertEquals((e as FsError).code, "EIO");
    return true;
  });
}

Deno.test("flipping any byte of a content file gives EIO on that file only", async () => {
  const { dir, b, aFile } = await setup();
  const orig = await Deno.readFile(aFile);
  for (
    const k of [
      0,
      3,
      4,
      12,
      20,
      100,
      SLOT - 1,
      slotAt(1) + 50,
      slotAt(3) + 9,
      orig.length - 1 - BASE,
    ]
  ) {
    const pos = BASE + k;
    const bad = orig.slice();
    bad[pos] ^= 0x01;
    await Deno.writeFile(aFile, bad);
    await expectEio(dir, "a");
    assertEquals(await readAll(dir, "b"), b, "the other file is unharmed");
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("truncating a content file, even at a chunk boundary, gives EIO", async () => {
  const { dir, aFile } = await setup();
  const orig = await Deno.readFile(aFile);
  for (const len of [orig.length - 1, BASE + slotAt(2), BASE + slotAt(1), BASE + SLOT - 1, BASE]) {
    await Deno.writeFile(aFile, orig.subarray(0, len));
    await expectEio(dir, "a");
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("swapping two chunks, or two files' contents, gives EIO", async () => {
  const { dir, aFile, bFile } = await setup();
  const orig = await Deno.readFile(aFile);
  const swapped = orig.slice();
  swapped.set(orig.subarray(BASE, BASE + SLOT), BASE + slotAt(1));
  swapped.set(orig.subarray(BASE + slotAt(1), BASE + slotAt(1) + SLOT), BASE);
  await Deno.writeFile(aFile, swapped);
  await expectEio(dir, "a");
  // The content of b under a's record (and the reverse): other file, other key.
  const bBytes = await Deno.readFile(bFile);
  const aWithB = orig.slice();
  aWithB.set(bBytes.subarray(BASE), BASE);
  const bWithA = bBytes.slice();
  bWithA.set(orig.subarray(BASE), BASE);
  await Deno.writeFile(aFile, aWithB);
  await Deno.writeFile(bFile, bWithA);
  await expectEio(dir, "a");
  await expectEio(dir, "b");
  // Whole inode files swapped: each record is bound to its inode number.
  await Deno.writeFile(aFile, bBytes);
  await Deno.writeFile(bFile, orig);
  await expectEio(dir, "a");
  await expectEio(dir, "b");
  await Deno.remove(dir, { recursive: true });
});

// Overwrites the first 10 bytes of "a" through the store (a rewrite of its chunk 0).
async function rewriteStartOfA(dir: string): Promise<void> {
  const fs = await EncryptedFs.open(dir, { password: PASSWORD });
  const at = await fs.lookup(ROOT_INO, n("a"));
  const fh = await fs.open(at.ino, 2);
  await fs.write(at.ino, fh, 0, new Uint8Array(10).fill(7));
  await fs.release(at.ino, fh);
  await fs.close();
}

Deno.test("documented limitation: an older version of a chunk is accepted (rollback)", async () => {
  const { dir, a, aFile } = await setup();
  const old = await Deno.readFile(aFile);
  await rewriteStartOfA(dir);
  const now = await Deno.readFile(aFile);
  now.set(old.subarray(BASE, BASE + SLOT), BASE); // restore chunk 0's pair as it was:
  now.fill(0, BASE + slotAt(0, 1), BASE + slotAt(0, 1) + SLOT); // slot 0 as before, slot 1 never written
  await Deno.writeFile(aFile, now);
  // Never garbage: the old plaintext of that chunk, exactly (docs/threat-model.md).
  assertEquals(await readAll(dir, "a"), a);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("documented limitation: damage to a chunk's newest version shows its previous one", async () => {
  // What a power cut during the rewrite leaves looks the same (docs/format.md, torn chunks).
  const { dir, a, aFile } = await setup();
  await rewriteStartOfA(dir);
  const now = await Deno.readFile(aFile);
  const second = new DataView(now.buffer).getUint32(BASE + slotAt(0, 1), true);
  assertEquals(second, CS, "the rewrite went to chunk 0's second slot");
  now[BASE + slotAt(0, 1) + 100] ^= 1;
  await Deno.writeFile(aFile, now);
  assertEquals(await readAll(dir, "a"), a);
  // With both versions damaged the chunk is lost: EIO, never garbage.
  now[BASE + 100] ^= 1;
  await Deno.writeFile(aFile, now);
  await expectEio(dir, "a");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a damaged inode record or entry gives EIO for that name, the rest stays usable", async () => {
  const { dir, b } = await setup();
  const fs = await EncryptedFs.open(dir, { password: PASSWORD });
  const aIno = (await fs.lookup(ROOT_INO, n("a"))).ino;
  await fs.close();
  const records = await inodeFiles(dir);
  // Find a's record: the one whose damage makes "a" fail.
  let hit = false;
  for (const rec of records) {
    const orig = await Deno.readFile(rec);
    const bad = orig.slice();
    // Inside the sealed record of both slots (the current version may be in either).
    const slotSize = new DataView(bad.buffer).getUint32(8, true);
    bad[16 + 40] ^= 0x80;
    if (bad.length > 16 + slotSize + 40) bad[16 + slotSize + 40] ^= 0x80;
    await Deno.writeFile(rec, bad);
    const damaged: string[] = [];
    const fs2 = await EncryptedFs.open(dir, { password: PASSWORD }, {
      onDamaged: (p: string) => damaged.push(p),
    })
      .catch(() => null);
    if (fs2) {
      const r = await fs2.lookup(ROOT_INO, n("a")).then((x) => x.ino, (e: FsError) => e.code);
      if (r === "EIO") {
        hit = true;
        assertEquals(damaged.length, 1, "logged once with its path");
        assertEquals(records.some((p) => p.endsWith(damaged[0])), true);
        const bi = await fs2.lookup(ROOT_INO, n("b"));
        const fh = await fs2.open(bi.ino, 0);
        assertEquals(await fs2.read(bi.ino, fh, 0, bi.size), b);
        await fs2.release(bi.ino, fh);
      } else if (r !== aIno) throw new Error(`unexpected ${r}`);
      await fs2.close();
    }
    await Deno.writeFile(rec, orig);
  }
  assertEquals(hit, true);
  // A damaged entry: the listing skips it and still shows the other name.
  const entries = (await walkFiles(dir)).filter((p) => p.includes(".d/"));
  const e0 = await Deno.readFile(entries[0]);
  e0[10] ^= 1;
  await Deno.writeFile(entries[0], e0);
  const fs3 = await EncryptedFs.open(dir, { password: PASSWORD });
  const dh = await fs3.opendir(ROOT_INO);
  const list = await fs3.readdir(ROOT_INO, dh, 0n, 100);
  assertEquals(list.length, 3, ". .. and the undamaged name");
  await fs3.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("no plaintext name or content appears in the data dir", async () => {
  const { fs, dir } = await freshFs();
  const marker = "PLAINTEXT-MARKER-7f3a";
  const d = await fs.mkdir(ROOT_INO, n(`dir-${marker}`), 0o755, ROOT_CALLER);
  const { attr, fh } = await fs.create(d.ino, n(`file-${marker}`), 0o644, 2, ROOT_CALLER);
  await fs.write(attr.ino, fh, 0, n(`content ${marker} `.repeat(1000)));
  await fs.setxattr(attr.ino, `user.${marker}`, n(marker), 0);
  await fs.symlink(d.ino, n("l"), n(marker), ROOT_CALLER);
  await fs.release(attr.ino, fh);
  await fs.close();
  const needle = new TextEncoder().encode(marker.slice(0, 12));
  for (const p of await walkFiles(dir)) {
    assertEquals(p.includes("MARKER"), false);
    const bytes = await Deno.readFile(p);
    const s = new TextDecoder("latin1").decode(bytes);
    assertEquals(s.includes(new TextDecoder().decode(needle)), false, p);
    for (const part of p.slice(dir.length).split("/")) assertEquals(part.length <= 40, true, p);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a symlink planted in the data dir is never followed: EIO, the target untouched", async () => {
  const { dir, aFile } = await setup();
  const victim = await Deno.makeTempFile();
  await Deno.writeTextFile(victim, "victim");
  await Deno.remove(aFile);
  await Deno.symlink(victim, aFile);
  await expectEio(dir, "a");
  const fs = await EncryptedFs.open(dir, { password: PASSWORD });
  await assertRejects(() => fs.lookup(ROOT_INO, n("a")), (e) => {
    assertEquals((e as FsError).code, "EIO");
    return true;
  });
  await fs.close();
  assertEquals(await Deno.readTextFile(victim), "victim");
  await Deno.remove(victim);
  await Deno.remove(dir, { recursive: true });
});

/**
 * Opens `dir` in a child process and looks up `names` in the root: what each lookup gave (`ok`
 * or an error code), or `open: …` when opening failed. A child, killed after `ms`: a blocking
 * open(2) of a FIFO would stop this process's only JS thread, timers included.
 */
async function lookupsInChild(dir: string, names: string[], ms = 30_000): Promise<string> {
  const lib = new URL("../src/fs/encrypted_fs.ts", import.meta.url).href;
  const script = `
    import { DamagedDataDirError, EncryptedFs } from ${JSON.stringify(lib)};
    const code = (e) => e instanceof DamagedDataDirError ? "damaged data dir" : e?.code ?? String(e);
    const out = [];
    let fs;
    try {
      fs = await EncryptedFs.open(${JSON.stringify(dir)}, { password: ${
    JSON.stringify(PASSWORD)
  } });
    } catch (e) {
      console.log("open: " + code(e));
      Deno.exit(0);
    }
    for (const name of ${JSON.stringify(names)}) {
      out.push(name + ": " + await fs.lookup(1n, new TextEncoder().encode(name)).then(() => "ok", code));
    }
    await fs.close();
    console.log(out.join(", "));
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout).trim();
    if (out.signal === "SIGKILL") return `hung (killed after ${ms} ms)`;
    if (!out.success) return `failed: ${new TextDecoder().decode(out.stderr)}`;
    return text;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a record replaced by a FIFO gives EIO for that file only, and never blocks", async () => {
  const { dir, bFile, rootFile } = await setup();
  await Deno.remove(bFile);
  const mk = await new Deno.Command("mkfifo", { args: [bFile] }).output();
  assertEquals(mk.success, true, "mkfifo");
  assertEquals(await lookupsInChild(dir, ["a", "b"]), "a: ok, b: EIO");
  // The root directory's record as a FIFO: the data dir is refused as damaged.
  await Deno.remove(rootFile);
  await new Deno.Command("mkfifo", { args: [rootFile] }).output();
  assertEquals(await lookupsInChild(dir, ["a"]), "open: damaged data dir");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("inode records moved to other inodes' places fail to open", async () => {
  const { dir } = await setup();
  const records = await inodeFiles(dir);
  // Swap every pair of non-root records: whichever are a and b, both fail to open.
  const fs0 = await EncryptedFs.open(dir, { password: PASSWORD });
  await fs0.close();
  const blobs = await Promise.all(records.map((p) => Deno.readFile(p)));
  for (let i = 0; i < records.length; i++) {
    await Deno.writeFile(records[i], blobs[(i + 1) % records.length]);
  }
  // The root's place now holds another inode's record: refused as damaged, not misread.
  await assertRejects(
    () => EncryptedFs.open(dir, { password: PASSWORD }).then((fs) => fs.close()),
    (e) => e instanceof DamagedDataDirError && /damaged/.test((e as Error).message),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a torn record slot falls back to the previous version, never to garbage", async () => {
  const { fs, dir } = await freshFs();
  const v = await fs.mkdir(ROOT_INO, n("d"), 0o700, ROOT_CALLER);
  await fs.close();
  const before = new Map<string, Uint8Array>();
  for (const p of await walkFiles(dir)) before.set(p, await Deno.readFile(p));
  // Second version of d's record: written in place into its other slot.
  const fs1 = await EncryptedFs.open(dir, { password: PASSWORD });
  await fs1.setattr(v.ino, { mode: 0o711 });
  await fs1.close();
  const changed: string[] = [];
  for (const p of await walkFiles(dir)) {
    const now = await Deno.readFile(p);
    const old = before.get(p);
    if (!old || old.length !== now.length || old.some((b, k) => b !== now[k])) changed.push(p);
  }
  assertEquals(changed.length, 1, "only d's inode file changed, in place");
  const file = changed[0];
  const bytes = await Deno.readFile(file);
  const old = before.get(file)!;
  const slotSize = new DataView(bytes.buffer).getUint32(8, true);
  const newer = old.subarray(16, 16 + slotSize).some((b, k) => b !== bytes[16 + k]) ? 0 : 1;
  const mode = async () => {
    const f = await EncryptedFs.open(dir, { password: PASSWORD });
    try {
      return (await f.lookup(ROOT_INO, n("d"))).mode & 0o777;
    } finally {
      await f.close();
    }
  };
  assertEquals(await mode(), 0o711);
  // Tear the newer slot: the older version is what reads back.
  const torn = bytes.slice();
  torn.fill(0xee, 16 + newer * slotSize + 8, 16 + newer * slotSize + 60);
  await Deno.writeFile(file, torn);
  assertEquals(await mode(), 0o700);
  // Tear both: EIO, never a made-up record.
  torn.fill(0xee, 16 + (1 - newer) * slotSize + 8, 16 + (1 - newer) * slotSize + 60);
  await Deno.writeFile(file, torn);
  await assertRejects(() => mode(), (e) => (e as FsError).code === "EIO");
  await Deno.remove(dir, { recursive: true });
});
