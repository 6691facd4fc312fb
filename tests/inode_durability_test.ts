/**
 * The durability state machine of an inode (src/fs/durability.ts): the legal sequences of its
 * transitions leave the state the crash-consistency rules rely on (docs/format.md), and the
 * illegal ones (a record write after the inode is gone or deleted, a snapshot never taken,
 * growth made durable beyond what happened, a file kept or unlinked after deletion) are refused.
 */
import { throws } from "node:assert/strict";
import { assertEquals } from "./helpers/assert.ts";
import { Durability } from "../src/fs/durability.ts";

/** `fn()` throws an Error whose message contains `part`. */
function throwsWith(fn: () => unknown, part: string): void {
  throws(fn, (e: unknown) => e instanceof Error && e.message.includes(part));
}

Deno.test("a loaded record is clean, its slot kept, with no growth, trim or move pending", () => {
  const d = new Durability(7, 1);
  assertEquals(
    [d.dirty, d.gone, d.deleted, d.keptPath, d.trimTo, d.shrinks],
    [false, false, false, null, null, 0],
  );
  assertEquals([d.slot, d.keptSlot, d.freeSlot, d.slotWrittenAt, d.movedAt], [1, 1, 0, -1, -1]);
  assertEquals([d.growthSynced, d.slotSynced(0), d.moveUnsynced(0)], [true, true, false]);
});

Deno.test("a change dirties the record, a snapshot cleans it, a failed write dirties it again", () => {
  const d = new Durability(7, 0);
  d.changed();
  assertEquals(d.dirty, true);
  const seq = d.saving();
  assertEquals([seq, d.dirty], [8, false]);
  assertEquals(d.writing(seq), true);
  d.saveFailed();
  assertEquals(d.dirty, true);
  d.unnamed();
  assertEquals(d.dirty, false);
});

Deno.test("an older record snapshot is refused once a newer one was written", () => {
  const d = new Durability(0, 0);
  const older = d.saving();
  const newer = d.saving();
  assertEquals(d.writing(newer), true);
  assertEquals(d.writing(older), false);
  // Writing the newest again (a retry under the save lock) is still allowed.
  assertEquals(d.writing(newer), true);
});

Deno.test("a record snapshot never taken cannot be written", () => {
  const d = new Durability(3, 0);
  throwsWith(() => d.writing(4), "never taken");
  throwsWith(() => d.writing(2.5), "never taken");
  assertEquals(d.writing(3), true);
});

Deno.test("no record is written once the entry file is gone or the objects deleted", () => {
  const gone = new Durability(0, 0);
  const seq = gone.saving();
  gone.unlinkedEntry();
  throwsWith(() => gone.writing(seq), "gone");
  assertEquals(gone.gone, true);

  const deleted = new Durability(0, 0);
  deleted.changed();
  const s = deleted.saving();
  deleted.changed();
  deleted.deletedObjects();
  assertEquals([deleted.deleted, deleted.dirty], [true, false]);
  throwsWith(() => deleted.writing(s), "deleted");
});

Deno.test("a written slot stays unkept until a sync after it completes; updates avoid the kept one", () => {
  const d = new Durability(0, 0);
  // Written at sync count 4 (four syncs started so far), not synced.
  d.saved(d.freeSlot, 4, false);
  assertEquals([d.slot, d.keptSlot, d.freeSlot, d.slotWrittenAt], [1, 0, 1, 4]);
  // A sync that started before the write (count 4) does not cover it; the fifth does.
  assertEquals([d.slotSynced(4), d.slotSynced(5)], [false, true]);
  // Rewritten in place until then: the free slot is still 1.
  d.saved(d.freeSlot, 5, false);
  assertEquals([d.slot, d.keptSlot], [1, 0]);
  d.slotDurable();
  assertEquals([d.slot, d.keptSlot, d.freeSlot, d.slotSynced(0)], [1, 1, 0, true]);
});

Deno.test("a synced record write settles its slot at once", () => {
  const d = new Durability(0, 1);
  d.saved(d.freeSlot, 2, true);
  assertEquals([d.slot, d.keptSlot, d.freeSlot, d.slotSynced(0)], [0, 0, 1, true]);
});

Deno.test("a slot is made durable only after one was written", () => {
  const d = new Durability(0, 0);
  throwsWith(() => d.slotDurable(), "no slot written");
});

Deno.test("a move keeps both slots until a sync after it; a failed move falls back", () => {
  const d = new Durability(0, 0);
  d.moved(1, 6);
  assertEquals([d.slot, d.keptSlot, d.slotWrittenAt, d.movedAt], [1, 1, 6, 6]);
  assertEquals([d.moveUnsynced(6), d.moveUnsynced(7)], [true, false]);

  // A move that failed after writing the free slot: only the kept slot opens where it is.
  const f = new Durability(0, 0);
  f.saved(1, 3, false);
  f.saving();
  f.moveFailed();
  assertEquals([f.slot, f.keptSlot, f.dirty], [0, 0, true]);

  // A move undone after it happened: back to the slot kept before it.
  const u = new Durability(0, 0);
  const kept = u.keptSlot;
  u.saving();
  u.moved(1, 2);
  u.moveUndone(kept);
  assertEquals([u.slot, u.keptSlot, u.dirty], [0, 0, true]);
});

Deno.test("growth is durable up to what a sync covered, never past what happened", () => {
  const d = new Durability(0, 0);
  d.grew();
  const before = d.growth;
  d.grew();
  assertEquals([d.growth, d.growthSynced], [2, false]);
  d.growthDurable(before);
  assertEquals([d.syncedGrowth, d.growthSynced], [1, false]);
  d.growthDurable(d.growth);
  assertEquals([d.syncedGrowth, d.growthSynced], [2, true]);
  // A later sync of an older snapshot does not take it back.
  d.growthDurable(before);
  assertEquals(d.syncedGrowth, 2);
  throwsWith(() => d.growthDurable(3), "only 2 happened");
});

Deno.test("shrinks leave the smallest trim pending; a failed trim is pending again", () => {
  const d = new Durability(0, 0);
  d.shrank(10);
  d.shrank(4);
  d.shrank(6);
  assertEquals([d.trimTo, d.shrinks], [4, 3]);
  d.trimming();
  assertEquals(d.trimTo, null);
  d.shrank(8);
  d.trimFailed(4);
  assertEquals([d.trimTo, d.shrinks], [4, 4]);
});

Deno.test("a gone inode's kept file is handed back once; nothing is kept or unlinked after deletion", () => {
  const d = new Durability(0, 0);
  d.kept("/t/x");
  d.unlinkedEntry();
  assertEquals([d.gone, d.keptPath], [true, "/t/x"]);
  d.deletedObjects();
  assertEquals(d.takeKept(), "/t/x");
  assertEquals([d.takeKept(), d.keptPath, d.gone, d.deleted], [null, null, true, true]);
  throwsWith(() => d.kept("/t/y"), "deleted");
  throwsWith(() => d.unlinkedEntry(), "deleted");
});
