/**
 * Inodes evicted from memory stay dormant (their record's encoding and name): a listing or
 * lookup of their names needs no read, and whatever is done to them afterwards (a change of
 * mode, data, a rename, an unlink) lands on disk as if they had been read from their files.
 * No FUSE: the store through its library API, with the smallest memory ceiling.
 */
import { ok as assert } from "node:assert/strict";
import { assertEquals } from "./helpers/assert.ts";
import { EncryptedFs } from "../mod.ts";
import { DormantEntries } from "../src/fs/dormant_entries.ts";
import { Inode } from "../src/fs/inode.ts";
import { newRecord } from "../src/store/inode_record.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import {
  DEFAULT_MEMORY_LIMIT,
  memoryBudgetNow,
  MIN_MEMORY_LIMIT,
  setMemoryLimit,
} from "../src/util/memory_budget.ts";

const enc = new TextEncoder();
const who = { uid: 1000, gid: 1000 };
const KDF = { kdfCost: { memoryKiB: 8192, iterations: 1 } };

Deno.test("a dormant entry gives back the record on disk (its seq), slot and name, only to its parent", () => {
  const rec = newRecord(77n, 0o100640, who, 5n, new Uint8Array(16).fill(3));
  rec.size = 12345;
  rec.xattrs.set("user.k", enc.encode("v"));
  const node = new Inode(rec, 1, 4096, {
    parent: 9n,
    name: enc.encode("n\u00e9me"),
    folder: "/x",
    file: "FILE",
  });
  const seq = node.durability.saving();
  node.durability.writing(seq);
  const d = new DormantEntries(() => 10_000);
  d.stash(node);
  assertEquals(d.get(8n, "FILE"), null, "another parent's entry file of that name is not it");
  d.stash(node);
  const e = d.get(9n, "FILE")!;
  assertEquals([e.ino, e.type, e.file], [77n, 0o100000, "FILE"]);
  assertEquals(e.name, enc.encode("n\u00e9me"));
  assertEquals(e.inline!.slot, 1);
  assertEquals(e.inline!.slotSize, 4096);
  assertEquals(e.inline!.rec.seq, BigInt(seq), "the sequence number of the record on disk");
  assertEquals(e.inline!.rec.size, 12345);
  assertEquals(e.inline!.rec.mode, 0o100640);
  assertEquals(e.inline!.rec.xattrs.get("user.k"), enc.encode("v"));
  d.drop("FILE");
  assertEquals(d.get(9n, "FILE"), null);
});

Deno.test("dormant entries are bounded by their bytes, the oldest going first", () => {
  const d = new DormantEntries(() => 100 * 600);
  for (let i = 0; i < 250; i++) {
    const node = new Inode(
      newRecord(BigInt(i + 2), 0o100600, who, 1n, new Uint8Array(16)),
      0,
      4096,
      {
        parent: 1n,
        name: enc.encode(`f${i}`),
        folder: "/x",
        file: `F${i}`,
      },
    );
    d.stash(node);
  }
  assert(d.size < 250 && d.size > 50, `${d.size} kept`);
  assert(d.get(1n, "F249") !== null, "the newest is kept");
  assertEquals(d.get(1n, "F0"), null, "the oldest went");
});

Deno.test({
  name: "names of evicted inodes list, look up and change as if read from their files",
  // A whole live-inode budget of files, then idle time for eviction: ~10 s.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    setMemoryLimit(MIN_MEMORY_LIMIT);
    const dir = await Deno.makeTempDir({ prefix: "rencfs-dormant-" });
    try {
      const count = memoryBudgetNow().liveInodes + 1500;
      let { fs } = await EncryptedFs.create(dir, "pw", KDF);
      const d = await fs.mkdir(ROOT_INO, enc.encode("d"), 0o755, who);
      for (let i = 0; i < count; i++) {
        const { attr, fh } = await fs.create(d.ino, enc.encode(`f${i}`), 0o100600, 0o101, who);
        if (i % 1000 === 7) await fs.write(attr.ino, fh, 0, enc.encode(`data ${i}`));
        await fs.release(attr.ino, fh);
      }
      // Idle long enough to be evicted; two more creations run the eviction scans (the first
      // starts the sync that eviction waits for).
      await new Promise((r) => setTimeout(r, 6_000));
      await fs.create(d.ino, enc.encode("x1"), 0o100600, 0o101, who);
      await new Promise((r) => setTimeout(r, 1_500));
      await fs.create(d.ino, enc.encode("x2"), 0o100600, 0o101, who);
      const stats = fs.cacheStats();
      assert(stats.dormantEntries > 1000, `evicted inodes kept dormant: ${JSON.stringify(stats)}`);

      // Listing: every name, with its attributes.
      const fh = await fs.opendir(d.ino);
      const seen = new Map<string, bigint>();
      let off = 0n;
      for (;;) {
        const batch = await fs.readdir(d.ino, fh, off, 1000, true);
        if (batch.length === 0) break;
        for (const e of batch) seen.set(new TextDecoder().decode(e.name), e.ino);
        off = batch[batch.length - 1].next;
      }
      await fs.releasedir(d.ino, fh);
      assertEquals(seen.size, count + 2 + 2, "every name, with . and ..");
      const a7 = await fs.lookup(d.ino, enc.encode("f7"));
      assertEquals([a7.size, a7.mode & 0o777, a7.uid], [6, 0o600, who.uid]);

      // Changes to names that were dormant: a mode, data, a rename, an unlink.
      const a1007 = await fs.lookup(d.ino, enc.encode("f1007"));
      await fs.setattr(a1007.ino, { mode: 0o644 });
      const w = await fs.open(a1007.ino, 2);
      await fs.write(a1007.ino, w, 0, enc.encode("rewritten"));
      await fs.release(a1007.ino, w);
      await fs.rename(d.ino, enc.encode("f2007"), d.ino, enc.encode("renamed"), 0);
      await fs.unlink(d.ino, enc.encode("f3"));
      await fs.close();

      fs = await EncryptedFs.open(dir, { password: "pw" });
      const d2 = await fs.lookup(ROOT_INO, enc.encode("d"));
      const b = await fs.lookup(d2.ino, enc.encode("f1007"));
      assertEquals([b.mode & 0o777, b.size], [0o644, 9]);
      const r = await fs.open(b.ino, 0);
      assertEquals(new TextDecoder().decode(await fs.read(b.ino, r, 0, 100)), "rewritten");
      await fs.release(b.ino, r);
      const moved = await fs.lookup(d2.ino, enc.encode("renamed"));
      assertEquals(moved.size, 9, "f2007 held 'data 2007'");
      for (const gone of ["f2007", "f3"]) {
        await fs.lookup(d2.ino, enc.encode(gone)).then(
          () => assert(false, `${gone} should be gone`),
          (e) => assertEquals((e as { code?: string }).code, "ENOENT"),
        );
      }
      await fs.close();
    } finally {
      setMemoryLimit(DEFAULT_MEMORY_LIMIT);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
