/**
 * Where the slots of format 3 lie (src/store/format/chunk_slot.ts, docs/format.md "Content"): groups of
 * 1, 1, 2, 4, … chunks up to about 16 MiB, slot 0 of each chunk then slot 1 of each; truncation
 * points and the stale range a truncation inside a group leaves.
 */
import {
  contentEnd,
  groupOf,
  groupRuns,
  maxGroup,
  slotOffset,
  slotSize,
  staleInGroup,
} from "../src/store/format/chunk_slot.ts";
import { assertEquals } from "./helpers/assert.ts";

const paired = { chunkSize: 65536, nonceLength: 24, paired: true };
const single = { chunkSize: 65536, nonceLength: 12, paired: false };
const S = slotSize(paired);
const at = (i: number, s: number) => slotOffset(paired, i, s) / S; // in slots

Deno.test("format 3 groups double from one chunk to 16 MiB: slot 0 of each, then slot 1", () => {
  assertEquals(S, 4 + 8 + 24 + 65536 + 16);
  assertEquals(maxGroup(paired), 256);
  assertEquals(maxGroup({ ...paired, chunkSize: 4096 }), 4096);
  assertEquals(maxGroup({ ...paired, chunkSize: 1 << 20 }), 16);
  assertEquals([0, 1, 2, 3, 4, 7, 8, 255, 256, 511, 512].map((i) => groupOf(paired, i)), [
    { a: 0, n: 1 },
    { a: 1, n: 1 },
    { a: 2, n: 2 },
    { a: 2, n: 2 },
    { a: 4, n: 4 },
    { a: 4, n: 4 },
    { a: 8, n: 8 },
    { a: 128, n: 128 },
    { a: 256, n: 256 },
    { a: 256, n: 256 },
    { a: 512, n: 256 },
  ]);
  // [c0 s0][c0 s1][c1 s0][c1 s1][c2 s0][c3 s0][c2 s1][c3 s1][c4..7 s0][c4..7 s1]…
  assertEquals([at(0, 0), at(0, 1), at(1, 0), at(1, 1)], [0, 1, 2, 3]);
  assertEquals([at(2, 0), at(3, 0), at(2, 1), at(3, 1)], [4, 5, 6, 7]);
  assertEquals([at(4, 0), at(7, 0), at(4, 1), at(7, 1)], [8, 11, 12, 15]);
  assertEquals([at(256, 0), at(511, 0), at(256, 1), at(512, 0)], [512, 767, 768, 1024]);
  // Unpaired (formats 1-2): one slot per chunk, back to back.
  assertEquals(slotOffset(single, 17, 0), 17 * slotSize(single));
});

Deno.test("a cut keeps the slots of the chunks kept and frees slot 0 of the others in the group", () => {
  assertEquals(contentEnd(paired, 0), 0);
  assertEquals(contentEnd(paired, 4) / S, 8, "a group boundary: both halves of all before");
  assertEquals(contentEnd(paired, 512) / S, 1024);
  assertEquals(contentEnd(paired, 6) / S, at(5, 1) + 1);
  assertEquals(staleInGroup(paired, 6), [at(6, 0) * S, 2 * S]); // slot 0 of chunks 6-7
  assertEquals(staleInGroup(paired, 4), null);
  assertEquals(staleInGroup(paired, 300), [at(300, 0) * S, (768 - at(300, 0)) * S]);
  assertEquals(staleInGroup(single, 3), null);
  assertEquals(contentEnd(single, 3), 3 * slotSize(single));
});

Deno.test("runs of a batch stay within a group (unpaired: one run)", () => {
  assertEquals(groupRuns(paired, 0, 5), [[0, 1], [1, 1], [2, 2], [4, 1]]);
  assertEquals(groupRuns(paired, 250, 16), [[250, 6], [256, 10]]);
  assertEquals(groupRuns(paired, 256, 16), [[256, 16]]);
  assertEquals(groupRuns(single, 14, 5), [[14, 5]]);
});
