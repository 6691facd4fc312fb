// The first reply of a listing asks the store for few entries (each one is an entry-file read):
// `rm -r` reads one reply of every directory only to see whether it is empty.
import { assertEquals } from "./helpers/assert.ts";
import { FIRST_REPLY_ENTRIES, replyEntries } from "../src/fuse/ops_dir.ts";

Deno.test("a listing's first reply asks for a few entries, later ones for what fits", () => {
  // "." and ".." come on top of the first entries.
  assertEquals(replyEntries(131072, 160, 0n), FIRST_REPLY_ENTRIES + 2);
  assertEquals(replyEntries(131072, 160, 34n), 819);
  assertEquals(replyEntries(131072, 32, 1000n), 4096);
  // A buffer smaller than the first-reply cap is never overfilled.
  assertEquals(replyEntries(4096, 160, 0n), 25);
  assertEquals(replyEntries(100, 160, 0n), 1);
});
