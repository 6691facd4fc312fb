// Buffers lent out as several views come back only when every view is released, and a buffer
// that came back leaves no usable view behind.
import { assertEquals } from "./helpers/assert.ts";
import { LeasePool } from "../src/util/lease_pool.ts";

Deno.test("a lent buffer is reused only after its last view is released", () => {
  const pool = new LeasePool(4);
  const buf = pool.take(4096);
  buf.fill(7);
  const views = [buf.subarray(0, 1024), buf.subarray(1024, 2048), buf.subarray(2048)];
  pool.lend(buf, views.length);
  assertEquals(pool.release(views[0]), true);
  assertEquals(pool.release(views[1]), true);
  // Still on loan: the last view is intact and a new buffer is a different one.
  const other = pool.take(4096);
  other.fill(9);
  assertEquals(views[2].every((b) => b === 7), true);
  assertEquals(pool.release(views[2]), true);
  // Back in the pool: every old view is detached (reads as empty, never as later data).
  for (const v of views) assertEquals(v.length, 0);
  assertEquals(pool.take(4096).length, 4096);
});

Deno.test("views of buffers not on loan, and extra releases, are ignored", () => {
  const pool = new LeasePool(4);
  assertEquals(pool.release(new Uint8Array(16)), false);
  const buf = pool.take(100);
  pool.lend(buf, 1);
  assertEquals(pool.release(buf), true);
  assertEquals(pool.release(buf), false);
  const none = pool.take(100);
  pool.lend(none, 0); // nothing handed out: back at once
  assertEquals(none.length, 0);
});
