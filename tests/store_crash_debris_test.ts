// What a power cut or a killed process leaves in the data dir never makes a directory
// unreadable: inode files that were never written read as absent, damaged ones fail only their
// own name, and nothing a crash interrupts leaves objects behind that no name reaches.
import { assertEquals } from "./helpers/assert.ts";
import { contentEnd, slotOffset } from "../src/store/format/chunk_slot.ts";
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { ROOT_INO } from "../src/fs/types.ts";
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

const dec = new TextDecoder();

const names = listNames;

/** The `.m` inode files of the data dir's object folders. */
async function objectFiles(dir: string): Promise<string[]> {
  return (await walkFiles(`${dir}/o`)).filter((p) => p.endsWith(".m")).sort();
}

/** Makes directory `name` in the root; returns its inode number and its new `.m` file. */
async function mkdirTracked(fs: EncryptedFs, dir: string, name: string) {
  const before = new Set(await objectFiles(dir));
  const attr = await fs.mkdir(ROOT_INO, n(name), 0o755, ROOT_CALLER);
  const m = (await objectFiles(dir)).filter((p) => !before.has(p));
  assertEquals(m.length, 1);
  return { ino: attr.ino, m: m[0] };
}

for (const damage of ["empty", "zeroed"] as const) {
  Deno.test(`a directory whose inode file is ${damage} (power cut) reads as absent and can be made again`, async () => {
    const { fs, dir } = await freshFs();
    const { m } = await mkdirTracked(fs, dir, "lost");
    await fs.mkdir(ROOT_INO, n("kept"), 0o755, ROOT_CALLER);
    await writeNew(fs, ROOT_INO, "file", "hello");
    await fs.close();
    const size = (await Deno.stat(m)).size;
    await Deno.writeFile(m, damage === "empty" ? new Uint8Array(0) : new Uint8Array(size));

    const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
    try {
      await expectErrno(fs2.lookup(ROOT_INO, n("lost")), "ENOENT");
      // The parent stays readable: its other names are all there.
      assertEquals((await names(fs2, ROOT_INO)).filter((x) => x !== "lost"), ["file", "kept"]);
      assertEquals(await readText(fs2, ROOT_INO, "file"), "hello");
      // The name can be made again, and removing the dangling name lets the parent empty.
      await fs2.mkdir(ROOT_INO, n("lost"), 0o700, ROOT_CALLER);
      assertEquals((await fs2.lookup(ROOT_INO, n("lost"))).mode & 0o777, 0o700);
    } finally {
      await fs2.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("removing a dangling name answers ENOENT and lets its directory be removed", async () => {
  const { fs, dir } = await freshFs();
  const parent = await fs.mkdir(ROOT_INO, n("p"), 0o755, ROOT_CALLER);
  const before = new Set(await objectFiles(dir));
  await fs.mkdir(parent.ino, n("child"), 0o755, ROOT_CALLER);
  const [m] = (await objectFiles(dir)).filter((p) => !before.has(p));
  await fs.close();
  await Deno.writeFile(m, new Uint8Array(0));

  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  try {
    assertEquals(await names(fs2, parent.ino), ["child"]); // a plain listing still shows it
    await expectErrno(fs2.rmdir(parent.ino, n("child")), "ENOENT");
    assertEquals(await names(fs2, parent.ino), []);
    await fs2.rmdir(ROOT_INO, n("p"));
    await expectErrno(fs2.lookup(ROOT_INO, n("p")), "ENOENT");
  } finally {
    await fs2.close();
    await Deno.remove(dir, { recursive: true });
  }
});

for (const keep of [16, 0]) {
  const what = keep ? "a header but no record" : "only zeros, 20 KiB of them";
  Deno.test(`a file whose entry file holds ${what} (power cut) reads as absent`, async () => {
    const { fs, dir } = await freshFs();
    const before = new Set(await walkFiles(dir));
    await writeNew(fs, ROOT_INO, "f", "data".repeat(3000));
    await writeNew(fs, ROOT_INO, "g", "more".repeat(3000));
    await fs.close();
    const added = (await walkFiles(dir)).filter((p) => !before.has(p));
    // Keep the 16-byte header of one of the two new entry files (or nothing), zero the rest.
    const victim = added[0];
    const bytes = await Deno.readFile(victim);
    bytes.fill(0, keep);
    await Deno.writeFile(victim, bytes);

    const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
    try {
      const left = await names(fs2, ROOT_INO);
      assertEquals(left.length, 1);
      const other = left[0];
      assertEquals(
        await readText(fs2, ROOT_INO, other),
        (other === "f" ? "data" : "more").repeat(3000),
      );
      const gone = other === "f" ? "g" : "f";
      await expectErrno(fs2.lookup(ROOT_INO, n(gone)), "ENOENT");
      await writeNew(fs2, ROOT_INO, gone, "again");
      assertEquals(await readText(fs2, ROOT_INO, gone), "again");
    } finally {
      await fs2.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("a directory removed while still known to the kernel leaves no object behind", async () => {
  const { fs, dir } = await freshFs();
  try {
    const { ino, m } = await mkdirTracked(fs, dir, "d");
    fs.retain(ino); // the kernel's reference, as after a lookup
    await fs.rmdir(ROOT_INO, n("d"));
    // Gone from the tree at once (to the trash), not when the kernel forgets it: a crash now
    // leaves nothing for fsck to collect.
    assertEquals((await objectFiles(dir)).includes(m), false);
    assertEquals((await fs.getattr(ino)).nlink, 0);
    fs.forget(ino, 1);
  } finally {
    await fs.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a hard-linked file unlinked while open leaves no object behind, and still reads", async () => {
  const { fs, dir } = await freshFs();
  try {
    const ino = await writeNew(fs, ROOT_INO, "f", "linked content");
    await fs.link(ino, ROOT_INO, n("g"));
    assertEquals((await objectFiles(dir)).length, 2); // the root's and the linked file's
    const fh = await fs.open(ino, 0);
    await fs.unlink(ROOT_INO, n("f"));
    await fs.unlink(ROOT_INO, n("g"));
    assertEquals((await objectFiles(dir)).length, 1);
    assertEquals(dec.decode(await fs.read(ino, fh, 0, 100)), "linked content");
    await fs.release(ino, fh);
  } finally {
    await fs.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("link counts of directories survive a kill -9 right after mkdir and rmdir", async () => {
  const { fs, dir } = await freshFs();
  await fs.close();
  const lib = new URL("../src/fs/encrypted_fs.ts", import.meta.url).href;
  const script = `
    import { EncryptedFs } from ${JSON.stringify(lib)};
    const enc = new TextEncoder();
    const c = { uid: 0, gid: 0 };
    const fs = await EncryptedFs.open(${JSON.stringify(dir)}, { password: ${
    JSON.stringify(PASSWORD)
  } });
    const a = await fs.mkdir(1n, enc.encode("a"), 0o755, c);
    for (const x of ["b", "c", "d"]) await fs.mkdir(a.ino, enc.encode(x), 0o755, c);
    await fs.rmdir(a.ino, enc.encode("d"));
    await fs.mkdir(1n, enc.encode("e"), 0o755, c);
    console.log("ready");
    await new Promise(() => {});
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let out = "";
  while (!out.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += dec.decode(value);
  }
  child.kill("SIGKILL");
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel().catch(() => {});
  assertEquals(out.trim(), "ready");

  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  try {
    assertEquals((await fs2.getattr(ROOT_INO)).nlink, 4); // ., .., a/.., e/..
    const a = await fs2.lookup(ROOT_INO, n("a"));
    assertEquals(a.nlink, 4); // b and c
  } finally {
    await fs2.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a shrink drops chunk slots only once its record is durable, and regrowth reads zeros", async () => {
  const { fs, dir } = await freshFs({ chunkSize: 4096 });
  const before = new Set(await walkFiles(dir));
  const data = new Uint8Array(10 * 4096).fill(7);
  const { attr, fh } = await fs.create(ROOT_INO, n("f"), 0o644, 2, ROOT_CALLER);
  await fs.write(attr.ino, fh, 0, data);
  await fs.fsync(attr.ino, fh, false);
  const [file] = (await walkFiles(dir)).filter((p) => !before.has(p));
  const full = (await Deno.stat(file)).size;
  await fs.setattr(attr.ino, { size: 5000 });
  // Cutting the file now could reach the disk before the shrunk record does.
  assertEquals((await Deno.stat(file)).size, full);
  // Growing back over the stale slots shows zeros, not their old bytes.
  await fs.setattr(attr.ino, { size: 3 * 4096 });
  const back = await fs.read(attr.ino, fh, 0, 3 * 4096);
  assertEquals(back.subarray(0, 5000).every((b) => b === 7), true);
  assertEquals(back.subarray(5000).every((b) => b === 0), true);
  await fs.release(attr.ino, fh);
  await fs.close();
  // After the record was synced (here at close), the slots past the size are gone: the file is
  // cut after the slots of the 3 chunks kept, and slot 0 of chunks 3-9 (in the same group,
  // before those) is a hole again.
  const layout = { chunkSize: 4096, nonceLength: 24, paired: true };
  const base = 16 + 2 * 4088;
  const raw = await Deno.readFile(file);
  assertEquals(raw.length <= base + contentEnd(layout, 3), true);
  const stale = raw.subarray(base + slotOffset(layout, 3, 0), base + slotOffset(layout, 10, 0));
  assertEquals(stale.every((b) => b === 0), true);
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  try {
    const a = await fs2.lookup(ROOT_INO, n("f"));
    assertEquals(a.size, 3 * 4096);
    const h = await fs2.open(a.ino, 0);
    const again = await fs2.read(a.ino, h, 0, a.size);
    assertEquals(again.subarray(0, 5000).every((b) => b === 7), true);
    assertEquals(again.subarray(5000).every((b) => b === 0), true);
    await fs2.release(a.ino, h);
  } finally {
    await fs2.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("record updates after an fsync never overwrite the fsynced record slot", async () => {
  const { fs, dir } = await freshFs();
  const before = new Set(await walkFiles(dir));
  const ino = await writeNew(fs, ROOT_INO, "f", "content");
  const [file] = (await walkFiles(dir)).filter((p) => !before.has(p));
  const fh = await fs.open(ino, 1);
  await fs.setattr(ino, { mode: 0o600 });
  await fs.fsync(ino, fh, false);
  await fs.release(ino, fh);
  const SLOT = 4088;
  const slots = async () => {
    const b = await Deno.readFile(file);
    return [b.slice(16, 16 + SLOT), b.slice(16 + SLOT, 16 + 2 * SLOT)];
  };
  const synced = await slots();
  // Updates that no sync follows: each alternating slot would overwrite the fsynced one.
  for (const mode of [0o640, 0o604, 0o644]) await fs.setattr(ino, { mode });
  const after = await slots();
  const kept = synced.findIndex((s, k) => s.every((x, i) => x === after[k][i]));
  assertEquals(kept >= 0, true, "the fsynced slot was overwritten");
  await fs.close();
  // A power cut that tears the other slot leaves the fsynced record.
  const bytes = await Deno.readFile(file);
  const other = kept === 0 ? 1 : 0;
  bytes.fill(0x5a, 16 + other * SLOT + 4, 16 + other * SLOT + 200);
  await Deno.writeFile(file, bytes);
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  try {
    const a = await fs2.lookup(ROOT_INO, n("f"));
    assertEquals(a.mode & 0o777, 0o600);
    assertEquals(await readText(fs2, ROOT_INO, "f"), "content");
  } finally {
    await fs2.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("until a rename is durable, record updates keep the record of the old name", async () => {
  const { fs, dir } = await freshFs();
  const before = new Set(await walkFiles(dir));
  const ino = await writeNew(fs, ROOT_INO, "old", "renamed content");
  const fh = await fs.open(ino, 1);
  await fs.fsync(ino, fh, false);
  await fs.release(ino, fh);
  const [oldPath] = (await walkFiles(dir)).filter((p) => !before.has(p));
  await fs.rename(ROOT_INO, n("old"), ROOT_INO, n("new"), 0);
  for (const mode of [0o600, 0o640, 0o604]) await fs.setattr(ino, { mode });
  const [newPath] = (await walkFiles(dir)).filter((p) => !before.has(p));
  const bytes = await Deno.readFile(newPath);
  await fs.close();
  // A power cut that undoes the rename: the file is back at its old path, as it is now.
  await Deno.remove(newPath);
  await Deno.writeFile(oldPath, bytes);
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  try {
    assertEquals(await readText(fs2, ROOT_INO, "old"), "renamed content");
  } finally {
    await fs2.close();
    await Deno.remove(dir, { recursive: true });
  }
});
