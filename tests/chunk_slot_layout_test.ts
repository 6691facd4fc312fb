/**
 * Where the slots of format 3 lie (src/store/chunk_slot.ts, docs/format.md "Content"): groups
 * of about 1 MiB of chunks, slot 0 of each then slot 1 of each; truncation points and the stale
 * range a truncation inside a group leaves.
 */
import {
  contentEnd,
  groupChunks,
  groupRuns,
  slotOffset,
  slotSize,
  staleInGroup,
} from "../src/store/chunk_slot.ts";
import { assertEquals } from "./helpers/assert.ts";

const paired = { chunkSize: 65536, nonceLength: 24, paired: true };
const single = { chunkSize: 65536, nonceLength: 12, paired: false };
const S = slotSize(paired);

Deno.test("format 3 groups 1 MiB of chunks: slot 0 of each, then slot 1 of each", () => {
  assertEquals(S, 4 + 8 + 24 + 65536 + 16);
  assertEquals(groupChunks(paired), 16);
  assertEquals(groupChunks({ ...paired, chunkSize: 4096 }), 256);
  assertEquals(groupChunks({ ...paired, chunkSize: 1 << 20 }), 1);
  assertEquals(slotOffset(paired, 0, 0), 0);
  assertEquals(slotOffset(paired, 15, 0), 15 * S);
  assertEquals(slotOffset(paired, 0, 1), 16 * S);
  assertEquals(slotOffset(paired, 15, 1), 31 * S);
  assertEquals(slotOffset(paired, 16, 0), 32 * S);
  assertEquals(slotOffset(paired, 17, 1), 49 * S);
  // Unpaired (formats 1-2): one slot per chunk, back to back.
  assertEquals(slotOffset(single, 17, 0), 17 * slotSize(single));
});

Deno.test("a cut keeps the slots of the chunks kept and frees slot 0 of the others in the group", () => {
  assertEquals(contentEnd(paired, 0), 0);
  assertEquals(contentEnd(paired, 16), 32 * S, "a whole group: both halves");
  assertEquals(contentEnd(paired, 3), slotOffset(paired, 2, 1) + S);
  assertEquals(staleInGroup(paired, 3), [3 * S, 13 * S]); // slot 0 of chunks 3-15
  assertEquals(staleInGroup(paired, 16), null);
  assertEquals(staleInGroup(paired, 19), [35 * S, 13 * S]);
  assertEquals(staleInGroup(single, 3), null);
  assertEquals(contentEnd(single, 3), 3 * slotSize(single));
});

Deno.test("runs of a batch stay within a group (unpaired: one run)", () => {
  assertEquals(groupRuns(paired, 14, 5), [[14, 2], [16, 3]]);
  assertEquals(groupRuns(paired, 0, 16), [[0, 16]]);
  assertEquals(groupRuns(single, 14, 5), [[14, 5]]);
});
