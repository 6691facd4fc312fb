/**
 * A partial rewrite reads its chunk from the one slot the tracker knows holds the newest version
 * (`ChunkPairs.current`, `ContentFile` #readKnown), instead of both slots of the pair. That slot is
 * trusted only when it opens as that version: damaged behind the mount's back, the chunk reads
 * as it would without the tracker (its previous version, from the other slot).
 */
import { ChunkPairs, SyncClock } from "../src/store/chunk_pairs.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { assertEquals } from "./helpers/assert.ts";
import { freshFs, n, PASSWORD, patternBytes, ROOT_CALLER, snapshotFiles } from "./helpers/store.ts";

Deno.test("the tracker names a chunk's slot only when it knows the newest version is there", () => {
  const clock = new SyncClock();
  const p = new ChunkPairs(clock);
  assertEquals(p.current(0), null, "unknown");
  p.observed(0, { slot: 1, gen: 0 });
  assertEquals(p.current(0), null, "never written: nothing to read");
  p.observed(1, { slot: 1, gen: 4 });
  assertEquals(p.current(1), { slot: 1, gen: 4 }, "as a read found it");
  p.begin(1, { slot: 0, gen: 5 });
  assertEquals(p.current(1), null, "a write is in progress");
  p.wrote(1);
  assertEquals(p.current(1), { slot: 0, gen: 5 }, "the write landed");
  p.begin(1, { slot: 0, gen: 5 });
  p.failed(1);
  assertEquals(p.current(1), null, "after a failed write the slot may hold anything");
  clock.done(clock.begin());
  assertEquals(p.current(1), null, "still unknown after the sync");
});

const CS = 4096;
const SIZE = 10_000; // three chunks; chunk 2 holds 1,808 bytes

const pattern = (seed: number) => patternBytes(SIZE, seed);
const snapshot = snapshotFiles;

// Garbles the last byte range in which a file holding chunks differs from `before`: the slot
// the last rewrite went to (chunks come after the record slots).
async function garbleLastChange(before: Map<string, Uint8Array>, dir: string): Promise<number> {
  let garbled = 0;
  for (const [f, now] of await snapshot(dir)) {
    const old = before.get(f);
    if (!old || now.length < 2 * CS) continue;
    const same = (i: number) => now[i] === (old[i] ?? 0);
    let end = now.length;
    while (end > 0 && same(end - 1)) end--;
    if (end === 0) continue;
    let start = end - 1;
    while (start > 0 && !same(start - 1)) start--;
    // In place, through the page cache the mount reads from.
    const file = await Deno.open(f, { write: true });
    try {
      await file.seek(start, Deno.SeekMode.Start);
      await file.write(now.subarray(start, end).map((b, i) => (b + 1 + (i % 7)) & 0xff));
    } finally {
      file.close();
    }
    garbled++;
  }
  return garbled;
}

Deno.test("a known slot damaged behind the mount's back: the chunk reads as its synced version", async () => {
  const { fs, dir } = await freshFs({ chunkSize: CS });
  const older: number[] = [];
  await fs.close();
  const again = await EncryptedFs.open(dir, { password: PASSWORD }, {
    onOlderChunk: (_, chunk) => older.push(chunk),
  });
  try {
    const { attr, fh } = await again.create(ROOT_INO, n("db"), 0o644, 2, ROOT_CALLER);
    const ino = attr.ino;
    await again.write(ino, fh, 0, pattern(1));
    await again.fsync(ino, fh, true);
    // Chunk 2 rewritten and synced (slot 1), then rewritten again (slot 0, not synced).
    await again.write(ino, fh, 8200, pattern(2).subarray(8200, 8300));
    await again.fsync(ino, fh, true);
    const before = await snapshot(dir);
    await again.write(ino, fh, 8300, pattern(3).subarray(8300, 8400));
    assertEquals(await garbleLastChange(before, dir), 1, "one slot was rewritten");
    // The next partial rewrite of chunk 2 reads it first: from the pair, not the damaged slot.
    await again.write(ino, fh, 9000, pattern(4).subarray(9000, 9010));
    const want = pattern(1);
    want.set(pattern(2).subarray(8200, 8300), 8200);
    want.set(pattern(4).subarray(9000, 9010), 9000);
    assertEquals(await again.read(ino, fh, 0, SIZE + 10), want);
    assertEquals(older, [2]);
    await again.release(ino, fh);
  } finally {
    await again.close();
    await Deno.remove(dir, { recursive: true });
  }
});
