/**
 * An inode whose record a save pass is writing is never evicted: the pass marks it clean when
 * it takes the snapshot, before the write lands (it may wait for a sync first), and an inode
 * evicted meanwhile would come back with the slot it had before the write, whose next record
 * write could then overwrite the only synced copy. No FUSE: the inode table over a real store.
 */
import { ok as assert } from "node:assert/strict";
import { assertEquals } from "./helpers/assert.ts";
import { freshFs, PASSWORD } from "./helpers/store.ts";
import { unlockDataDir } from "../src/store/datadir.ts";
import { StoreKeys } from "../src/store/keys.ts";
import { RecordStore } from "../src/store/record_store.ts";
import { InodeTable } from "../src/fs/inode_table.ts";
import { newRecord } from "../src/store/inode_record.ts";
import type { CipherName } from "../src/crypto/aead.ts";
import {
  DEFAULT_MEMORY_LIMIT,
  memoryBudgetNow,
  MIN_MEMORY_LIMIT,
  setMemoryLimit,
} from "../src/util/memory_budget.ts";

const who = { uid: 0, gid: 0 };

Deno.test("an inode in a save pass is not evicted until the pass is over", async () => {
  setMemoryLimit(MIN_MEMORY_LIMIT);
  const { fs, dir } = await freshFs();
  await fs.close();
  try {
    const { masterKey, header } = await unlockDataDir(dir, { password: PASSWORD });
    const keys = StoreKeys.derive(masterKey, header.cipher as CipherName);
    masterKey.fill(0);
    const records = new RecordStore(dir, keys);
    const table = new InodeTable(records, () => {}, () => Promise.resolve());

    // The inode under test: a real inode file in its object place, loaded, idle for long.
    const ino = 0x1234_5678_9abcn;
    const rec = newRecord(ino, 0o100644, who, 1n, new Uint8Array(16).fill(7));
    await records.create(rec, records.objectPlace(ino));
    const node = await table.get(ino);
    // Over the live-inode limit with inodes in use just now, which no eviction takes.
    const limit = memoryBudgetNow().liveInodes;
    for (let i = 0; i < limit + 10; i++) {
      const r = newRecord(BigInt(i) + 0x10_0000n, 0o100644, who, 1n, new Uint8Array(16));
      table.adopt({ rec: r, slot: 0, slotSize: 4096 }, {
        parent: 1n,
        name: new Uint8Array([0x61]),
        folder: dir,
        file: `F${i}`,
      });
    }
    node.touched = -1e9; // long idle, whatever the clock
    node.rec.mode = 0o100600;
    node.durability.changed();

    // A save pass takes its snapshot now and then waits (here: for the inode's save lock).
    let release = () => {};
    const held = node.saveLock.run(() => new Promise<void>((r) => release = r));
    await new Promise((r) => setTimeout(r, 0)); // the lock is taken
    const pass = table.saveMany([node]);
    assert(!node.durability.dirty, "the snapshot leaves the inode clean");
    table.forgettable(10); // runs an eviction scan
    assert(table.peek(ino) === node, "not evicted while its record is being written");

    release();
    await held;
    await pass;
    const back = await records.load(records.objectPlace(ino));
    assertEquals(back?.rec.mode, 0o100600, "the pass wrote its snapshot");
  } finally {
    setMemoryLimit(DEFAULT_MEMORY_LIMIT);
    await Deno.remove(dir, { recursive: true });
  }
});
