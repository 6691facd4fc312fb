/**
 * The inode budget in force shrinks while collections leave memory near the ceiling (live
 * inodes, not garbage, fill it) and grows back once memory is well under it; the inode table and
 * the dormant entries follow it.
 */
import { assertEquals } from "./helpers/assert.ts";
import {
  inodeShareNow,
  MIN_INODE_SHARE,
  setInodeShare,
  shareAfterCollection,
  shareOnCheck,
} from "../src/util/inode_share.ts";
import { inodeCacheLimit } from "../src/fs/inode_table.ts";
import { dormantByteLimit, memoryBudgetNow } from "../src/util/memory_budget.ts";

const MiB = 1 << 20;
const COMFORTABLE = 200 * MiB;

Deno.test("a collection that leaves memory near the ceiling lowers the inode budget", () => {
  try {
    setInodeShare(1);
    const { liveInodes: full, dormantBytes } = memoryBudgetNow();
    assertEquals(inodeCacheLimit(), full);
    assertEquals(dormantByteLimit(), dormantBytes);
    assertEquals(shareAfterCollection(150 * MiB, COMFORTABLE), false, "garbage was the cause");
    assertEquals(inodeShareNow(), 1);
    assertEquals(shareAfterCollection(210 * MiB, COMFORTABLE), true);
    assertEquals(inodeShareNow(), 0.8);
    assertEquals(inodeCacheLimit(), Math.floor(full * 0.8));
    assertEquals(dormantByteLimit(), Math.floor(dormantBytes * 0.8), "dormant too");
    for (let i = 0; i < 20; i++) shareAfterCollection(230 * MiB, COMFORTABLE);
    assertEquals(inodeShareNow(), MIN_INODE_SHARE, "never below the floor");
    assertEquals(shareAfterCollection(230 * MiB, COMFORTABLE), false, "nothing left to lower");
    assertEquals(inodeCacheLimit(), Math.floor(full * MIN_INODE_SHARE));
  } finally {
    setInodeShare(1);
  }
});

Deno.test("a lowered inode budget grows back step by step while memory is well under", () => {
  try {
    setInodeShare(0.5);
    shareOnCheck(190 * MiB, 184 * MiB);
    assertEquals(inodeShareNow(), 0.5, "not while memory is above the mark");
    shareOnCheck(150 * MiB, 184 * MiB);
    assertEquals(inodeShareNow(), 0.55);
    for (let i = 0; i < 30; i++) shareOnCheck(150 * MiB, 184 * MiB);
    assertEquals(inodeShareNow(), 1, "up to the whole budget, no further");
  } finally {
    setInodeShare(1);
  }
});
