/**
 * A power cut during the rewrite of a chunk can leave its slot torn: part new sealed bytes, part
 * old. From format 3 on a rewrite never touches the slot holding the chunk's durable version, so
 * after a tear the file reads as it was at its last sync; format 2 rewrote in place and read EIO.
 *
 * The tear is made on disk: the inode file as the rewrite left it, with the second half of the
 * last range it changed (the rewritten slot) replaced by other bytes.
 */
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { fsck } from "../src/fsck/fsck.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { assertEquals } from "./helpers/assert.ts";
import { freshFs, n, PASSWORD, patternBytes, ROOT_CALLER, snapshotFiles } from "./helpers/store.ts";

const CS = 4096;
const SIZE = 10_000; // chunk 2 holds 1,808 bytes

const pattern = (seed: number) => patternBytes(SIZE, seed);
const snapshot = snapshotFiles;

// Garbles the second half of the last byte range in which the file holding the chunks differs
// from `before` (the rewritten slot: the record slots come first).
async function tearLastChange(before: Map<string, Uint8Array>, dir: string): Promise<void> {
  let torn = 0;
  for (const [f, now] of await snapshot(dir)) {
    const old = before.get(f);
    if (!old || now.length < 2 * CS) continue; // only the file's inode file holds chunks
    // Bytes past the old end count as zeros (the old file read so there: a hole).
    const same = (i: number) => now[i] === (old[i] ?? 0);
    let end = now.length;
    while (end > 0 && same(end - 1)) end--;
    if (end === 0) continue;
    let start = end - 1;
    while (start > 0 && !same(start - 1)) start--;
    const mid = start + Math.floor((end - start) / 2);
    for (let i = mid; i < end; i++) now[i] = (now[i] + 1 + (i % 7)) & 0xff;
    await Deno.writeFile(f, now);
    torn++;
  }
  assertEquals(torn, 1, "exactly one chunk slot was rewritten");
}

async function readAll(fs: EncryptedFs, ino: bigint): Promise<Uint8Array | string> {
  const fh = await fs.open(ino, 0);
  try {
    return await fs.read(ino, fh, 0, SIZE + 10);
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  } finally {
    await fs.release(ino, fh);
  }
}

// Writes v0 (fsynced), then rewrites chunk 2 once per later version with an fsync between all
// but the last two; closes; tears the last rewrite on disk; reopens and reads the file.
async function tornAfter(
  formatVersion: 2 | 3,
  versions: number[],
  syncedUpTo: number,
): Promise<Uint8Array | string> {
  const { fs, dir } = await freshFs({ chunkSize: CS, formatVersion });
  const { attr, fh } = await fs.create(ROOT_INO, n("db"), 0o644, 2, ROOT_CALLER);
  await fs.write(attr.ino, fh, 0, pattern(versions[0]));
  await fs.fsync(attr.ino, fh, true);
  let before = await snapshot(dir);
  for (let v = 1; v < versions.length; v++) {
    const data = pattern(versions[v]).subarray(8200, 8300);
    await fs.write(attr.ino, fh, 8200, data);
    if (v <= syncedUpTo) {
      await fs.fsync(attr.ino, fh, true);
      before = await snapshot(dir);
    }
  }
  await fs.release(attr.ino, fh);
  await fs.close();
  await tearLastChange(before, dir);
  if (formatVersion === 3) {
    // fsck: no problem (the previous version is sound), but a note naming the chunk.
    const r = await fsck(dir, { password: PASSWORD });
    assertEquals(r.problems, []);
    assertEquals(
      r.notes.filter((x) => x.startsWith("/db: chunk 2 read as the previous")).length,
      1,
    );
  }
  const older: number[] = [];
  const again = await EncryptedFs.open(dir, { password: PASSWORD }, {
    onOlderChunk: (_, chunk) => older.push(chunk),
  });
  try {
    const a = await again.lookup(ROOT_INO, n("db"));
    const got = await readAll(again, a.ino);
    // Format 3 says which chunk it read as its previous version.
    assertEquals(older, formatVersion === 3 ? [2] : []);
    return got;
  } finally {
    await again.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function expected(versions: number[]): Uint8Array {
  const out = pattern(versions[0]);
  for (const v of versions.slice(1)) out.set(pattern(v).subarray(8200, 8300), 8200);
  return out;
}

Deno.test("a torn rewrite of a synced chunk reads as the synced version (format 3)", async () => {
  assertEquals(await tornAfter(3, [1, 2], 0), expected([1]));
});

Deno.test("rewrites before a sync reuse one slot: tearing the last keeps the synced one", async () => {
  assertEquals(await tornAfter(3, [1, 2, 3, 4], 0), expected([1]));
});

Deno.test("after a synced rewrite, a torn next rewrite reads as the synced rewrite", async () => {
  assertEquals(await tornAfter(3, [1, 2, 3], 1), expected([1, 2]));
  assertEquals(await tornAfter(3, [1, 2, 3, 4], 2), expected([1, 2, 3]));
});

Deno.test("format 2 rewrote chunks in place: the same tear reads EIO there", async () => {
  assertEquals(await tornAfter(2, [1, 2], 0), "EIO");
});

Deno.test("an untorn rewrite reads as written after a reopen (format 3)", async () => {
  const { fs, dir } = await freshFs({ chunkSize: CS });
  const { attr, fh } = await fs.create(ROOT_INO, n("f"), 0o644, 2, ROOT_CALLER);
  await fs.write(attr.ino, fh, 0, pattern(1));
  await fs.fsync(attr.ino, fh, true);
  for (let v = 2; v <= 5; v++) {
    await fs.write(attr.ino, fh, 0, pattern(v)); // every chunk, whole
    if (v % 2 === 0) await fs.fsync(attr.ino, fh, false);
  }
  await fs.release(attr.ino, fh);
  await fs.close();
  const older: number[] = [];
  const again = await EncryptedFs.open(dir, { password: PASSWORD }, {
    onOlderChunk: (_, chunk) => older.push(chunk),
  });
  const a = await again.lookup(ROOT_INO, n("f"));
  assertEquals(await readAll(again, a.ino), pattern(5));
  assertEquals(older, [], "every chunk's newest version opens");
  await again.close();
  await Deno.remove(dir, { recursive: true });
});
