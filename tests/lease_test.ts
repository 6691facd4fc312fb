// A lease hands its views back exactly once, and with poisoning on, memory handed back reads as
// the poison byte: a view used after its release shows poison, never the data of a later read.
import { throws } from "node:assert/strict";
import { assertEquals } from "./helpers/assert.ts";
import { Lease, LeaseReleasedError, POISON_BYTE, POISON_ENV } from "../src/util/lease.ts";
import { LeasePool } from "../src/util/lease_pool.ts";
import { SharedBuffers } from "../src/util/shared_buffers.ts";
import { hasZeroCopy } from "../src/fs/types.ts";
import { freshFs, n, ROOT_CALLER } from "./helpers/store.ts";
import { ROOT_INO } from "../src/fs/types.ts";

/** `fn` throws a {@link LeaseReleasedError} whose message has `text`. */
function assertReleased(fn: () => unknown, text = ""): void {
  throws(fn, (e: unknown) => e instanceof LeaseReleasedError && e.message.includes(text));
}

const poisoned = (v: Uint8Array) => v.length > 0 && v.every((b) => b === POISON_BYTE);

/** A pool lending shared buffers of 4 KiB, poisoned on release or not. */
function sharedPool(poison: boolean): { pool: LeasePool; shared: SharedBuffers } {
  const shared = new SharedBuffers(4096, 2, () => {}, () => {}, poison);
  return { pool: new LeasePool(2, shared, poison), shared };
}

/** Lends `buf` as two halves under one lease. */
function lendHalves(pool: LeasePool, buf: Uint8Array): Lease {
  const views = [buf.subarray(0, buf.length / 2), buf.subarray(buf.length / 2)];
  pool.lend(buf, views.length);
  return new Lease(views, (vs) => vs.forEach((v) => pool.release(v)));
}

Deno.test("a lease released twice throws, and gives its views back only once", () => {
  let given = 0;
  const lease = new Lease([new Uint8Array(3), new Uint8Array(5)], () => given++);
  assertEquals([lease.bytes, lease.released, lease.views.length], [8, false, 2]);
  lease.release();
  assertEquals([given, lease.released], [1, true]);
  assertReleased(() => lease.release(), "released twice");
  assertReleased(() => lease.views, "used after release");
  assertEquals(given, 1);
});

Deno.test("with poisoning on, a view of shared memory used after release reads poison", () => {
  const { pool, shared } = sharedPool(true);
  const buf = pool.take(4096);
  assertEquals(buf.buffer instanceof SharedArrayBuffer, true);
  buf.fill(7); // "plaintext"
  const lease = lendHalves(pool, buf);
  const kept = [...lease.views]; // a bug: views kept past the release
  lease.release();
  assertEquals(kept.map(poisoned), [true, true]);
  // The whole shared buffer went back poisoned, and is what the next take gets.
  assertEquals(shared.inUse, 0);
  const next = pool.take(4096);
  assertEquals([next.buffer === buf.buffer, poisoned(next)], [true, true]);
  assertReleased(() => lease.release());
});

Deno.test("with poisoning on, one view back is poisoned while the others stay intact", () => {
  const { pool } = sharedPool(true);
  const buf = pool.take(4096);
  buf.fill(7);
  const views = [buf.subarray(0, 2048), buf.subarray(2048)];
  pool.lend(buf, 2);
  pool.release(views[0]);
  assertEquals([poisoned(views[0]), views[1].every((b) => b === 7)], [true, true]);
});

Deno.test("with poisoning off, release leaves shared memory as it was (no fill)", () => {
  const { pool } = sharedPool(false);
  const buf = pool.take(4096);
  buf.fill(7);
  const lease = lendHalves(pool, buf);
  const kept = [...lease.views];
  lease.release();
  assertEquals(kept.map((v) => v.every((b) => b === 7)), [true, true]);
});

Deno.test("RENCFS_POISON_BUFFERS=1: read pieces of EncryptedFs read poison after release", async () => {
  Deno.env.set(POISON_ENV, "1");
  // Left set: the variable is process-wide and mount_buffers_test.ts, running in parallel in this
  // process, needs it on too; poisoning only makes every pool stricter.
  const opened = await freshFs({ chunkSize: 65536 }); // its buffer pools read the variable now
  const { fs, dir } = opened;
  assertEquals(hasZeroCopy(fs), true);
  const { attr, fh } = await fs.create(ROOT_INO, n("f"), 0o644, 2, ROOT_CALLER);
  const data = new Uint8Array(65536 * 4).map((_, i) => (i * 31) % 199);
  await fs.write(attr.ino, fh, 0, data);
  // Four chunks in one batch: their image is a shared buffer.
  const lease = await fs.readPieces(attr.ino, fh, 1000, 65536 * 3);
  const kept = [...lease.views];
  assertEquals(kept.every((p) => p.buffer instanceof SharedArrayBuffer), true);
  let at = 1000;
  for (const p of kept) {
    assertEquals(p, data.subarray(at, at + p.length));
    at += p.length;
  }
  lease.release();
  assertEquals(kept.map(poisoned), kept.map(() => true));
  assertReleased(() => lease.release());
  // The file itself is untouched: a fresh read sees the data.
  assertEquals(await fs.read(attr.ino, fh, 0, data.length), data);
  await fs.release(attr.ino, fh);
  await fs.close();
  await Deno.remove(dir, { recursive: true });
});
