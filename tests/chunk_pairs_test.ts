/**
 * The slot rule of format 3 (src/store/chunk_pairs.ts): a write never goes to the slot holding
 * a chunk's durable version, and a slot becomes durable only after a sync that started after
 * its write completed.
 */
import { ChunkPairs, SyncClock } from "../src/store/chunk_pairs.ts";
import { assertEquals } from "./helpers/assert.ts";

function write(p: ChunkPairs, i: number, fallback = { slot: 0 as const, gen: 1 }) {
  const t = p.target(i) ?? fallback;
  p.begin(i, t);
  p.wrote(i);
  return t;
}

function syncfs(clock: SyncClock): void {
  clock.done(clock.begin());
}

Deno.test("rewrites before a sync reuse the written slot; after it they switch", () => {
  const clock = new SyncClock();
  const p = new ChunkPairs(clock);
  assertEquals(p.target(0), null, "unknown chunks are looked up on disk");
  assertEquals(write(p, 0), { slot: 0, gen: 1 });
  assertEquals(write(p, 0), { slot: 0, gen: 1 }, "slot 0 is not durable yet: slot 1 may be");
  syncfs(clock);
  assertEquals(write(p, 0), { slot: 1, gen: 2 });
  assertEquals(write(p, 0), { slot: 1, gen: 2 });
  syncfs(clock);
  assertEquals(write(p, 0), { slot: 0, gen: 3 });
});

Deno.test("a sync that started before a write completed does not make it durable", () => {
  const clock = new SyncClock();
  const p = new ChunkPairs(clock);
  p.observed(0, { slot: 0, gen: 4 });
  const running = clock.begin();
  assertEquals(write(p, 0), { slot: 1, gen: 5 });
  clock.done(running);
  assertEquals(p.target(0), { slot: 1, gen: 5 }, "still the same slot");
  assertEquals(p.settled(), false);
  syncfs(clock);
  assertEquals(p.target(0), { slot: 0, gen: 6 });
  assertEquals(p.settled(), true);
});

Deno.test("an fdatasync of the file covers the writes completed before it started", () => {
  const clock = new SyncClock();
  const p = new ChunkPairs(clock);
  write(p, 0);
  const stamp = p.fileSyncStarted();
  write(p, 1);
  p.fileSyncEnded(stamp, true);
  assertEquals(p.target(0), { slot: 1, gen: 2 });
  assertEquals(p.target(1), { slot: 0, gen: 1 }, "written after the fdatasync began");
});

Deno.test("a write in progress is never durable; after a failed one the slot stays until a sync", () => {
  const clock = new SyncClock();
  const p = new ChunkPairs(clock);
  p.observed(3, { slot: 1, gen: 7 });
  p.begin(3, { slot: 0, gen: 8 });
  syncfs(clock);
  assertEquals(p.target(3), { slot: 0, gen: 8 });
  assertEquals(p.settled(), false);
  // The failed write may have put a whole version 8 in slot 0 (only in the page cache): slot 1
  // (version 7) is the only durable one, so writes keep to slot 0 until a sync.
  p.failed(3);
  assertEquals(p.target(3), { slot: 0, gen: 8 });
  assertEquals(p.slotOf(3), 0);
  assertEquals(p.settled(), false);
  syncfs(clock);
  assertEquals(p.target(3), null, "synced: what the disk shows is durable, look there");
  assertEquals(p.settled(), true);
});

Deno.test("a long write keeps the tracker bounded once synced", () => {
  const clock = new SyncClock();
  const p = new ChunkPairs(clock);
  for (let i = 0; i < 20_000; i++) write(p, i);
  assertEquals(p.size, 20_000, "unsynced entries are all kept");
  syncfs(clock);
  for (let i = 20_000; i < 40_000; i++) write(p, i);
  syncfs(clock);
  assertEquals(p.settled(), true);
  for (let i = 40_000; i < 41_000; i++) write(p, i);
  // Sweeps run once the map has doubled since the last one: the 20,000 synced entries of the
  // first pass are gone, not all 41,000.
  assertEquals(p.size <= 21_000, true, `size ${p.size}`);
  p.dropFrom(0);
  assertEquals(p.size, 0);
});

Deno.test("a rewrite waits while a sync covering the slot's last write runs", async () => {
  const clock = new SyncClock();
  const p = new ChunkPairs(clock);
  write(p, 0);
  const early = clock.begin(); // covers the write: the slot must not be rewritten now
  const wait = p.busy(0);
  assertEquals(wait instanceof Promise, true);
  let ended = false;
  const waited = wait!.then(() => ended = true);
  await Promise.resolve();
  assertEquals(ended, false);
  clock.done(early);
  await waited;
  assertEquals(p.busy(0), null);
  assertEquals(p.target(0), { slot: 1, gen: 2 }, "the sync made slot 0 durable");
});

Deno.test("a failed sync ends the wait but makes nothing durable", async () => {
  const clock = new SyncClock();
  const p = new ChunkPairs(clock);
  write(p, 0);
  const n = clock.begin();
  const wait = p.busy(0)!;
  clock.done(n, false);
  await wait;
  assertEquals(p.target(0), { slot: 0, gen: 1 });
  // The same for an fdatasync of the file.
  const stamp = p.fileSyncStarted();
  const fileWait = p.busy(0);
  assertEquals(fileWait instanceof Promise, true);
  p.fileSyncEnded(stamp, false);
  await fileWait;
  assertEquals(p.target(0), { slot: 0, gen: 1 });
  const again = p.fileSyncStarted();
  p.fileSyncEnded(again, true);
  assertEquals(p.target(0), { slot: 1, gen: 2 });
});

Deno.test("a sync that started before the write completed does not hold the rewrite up", () => {
  const clock = new SyncClock();
  const p = new ChunkPairs(clock);
  clock.begin();
  write(p, 0);
  assertEquals(p.busy(0), null);
});
