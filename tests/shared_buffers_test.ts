// Plaintext images of up to 1 MiB travel to the chunk workers as shared buffers named by
// number: they are made up to a limit, come back for reuse after every request (failed ones
// too), and a lent one is reused only once each of its views is released.
import { assertEquals, assertRejects } from "./helpers/assert.ts";
import { SharedBuffers } from "../src/util/shared_buffers.ts";
import { LeasePool } from "../src/util/lease_pool.ts";
import { ChunkIo, ChunkIoError } from "../src/store/chunk_io.ts";
import { sysClose, sysOpen } from "../ffi/sysio.ts";
import { constants } from "node:fs";

Deno.test("shared buffers are made up to the limit, named once, counted, and reused after give", () => {
  const told: number[] = [];
  const s = new SharedBuffers(4096, 2, (id) => told.push(id), () => {});
  const a = s.take(100)!;
  const b = s.take(4096)!;
  assertEquals([a.length, b.length, told], [100, 4096, [0, 1]]);
  assertEquals(s.take(10), null, "over the limit");
  assertEquals(s.take(4097), null, "larger than a buffer");
  assertEquals(s.idOf(b.buffer), 1);
  assertEquals(s.idOf(new ArrayBuffer(8)), undefined);
  assertEquals(s.give(new Uint8Array(8)), false);
  assertEquals(s.liveBytes, 2 * 4096);
  assertEquals(s.give(a), true);
  assertEquals(s.inUse, 1);
  assertEquals(s.liveBytes, 2 * 4096, "a free buffer is still memory held, not garbage");
  const again = s.take(50)!;
  assertEquals(again.buffer, a.buffer, "the freed buffer, not a new one");
  assertEquals(told, [0, 1]);
});

Deno.test("a lease on a shared buffer ends with its last view, and only then is reused", () => {
  const s = new SharedBuffers(4096, 1, () => {}, () => {});
  const pool = new LeasePool(2, s);
  const buf = pool.take(4096);
  assertEquals(buf.buffer instanceof SharedArrayBuffer, true);
  buf.fill(7);
  const views = [buf.subarray(0, 2048), buf.subarray(2048)];
  pool.lend(buf, 2);
  pool.release(views[0]);
  // The one shared buffer is still on loan: the next take gets an ordinary one.
  const other = pool.take(4096);
  assertEquals(other.buffer instanceof SharedArrayBuffer, false);
  other.fill(9);
  assertEquals(views[1].every((x) => x === 7), true);
  pool.release(views[1]);
  assertEquals(pool.take(4096).buffer, buf.buffer);
});

const CS = 65536;
const NONCE = 12;
const LAYOUT = { chunkSize: CS, nonceLength: NONCE, paired: false };

function batch(fd: number, first: number) {
  return {
    cipher: "chacha20-poly1305" as const,
    key: new Uint8Array(32).fill(3),
    fd,
    base: 0,
    layout: LAYOUT,
    ad: new Uint8Array(24),
    first,
  };
}

Deno.test("chunks written and read through a worker use shared buffers and give them all back", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/content`;
  const fd = sysOpen(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  const io = new ChunkIo();
  try {
    const model = new Uint8Array(16 * CS).map((_, i) => (i * 31 + (i >> 12)) % 251);
    for (let b = 0; b < 4; b++) {
      const image = io.image(4 * CS, false);
      assertEquals(image.buffer instanceof SharedArrayBuffer, true);
      image.set(model.subarray(b * 4 * CS, (b + 1) * 4 * CS));
      await io.write(batch(fd, b * 4), image, [CS, CS, CS, CS]);
    }
    assertEquals(io.sharedInUse, 0, "write images came back");
    // Reads in flight together, each lent out chunk by chunk and released.
    const reads = await Promise.all([0, 1, 2, 3].map((b) => io.read(batch(fd, b * 4), 4)));
    assertEquals(io.sharedInUse, 4);
    reads.forEach((r, b) => {
      assertEquals([...r.lengths], [CS, CS, CS, CS]);
      assertEquals(r.plain, model.subarray(b * 4 * CS, (b + 1) * 4 * CS));
      const views = [0, 1, 2, 3].map((k) => r.plain.subarray(k * CS, (k + 1) * CS));
      io.readImages.lend(r.plain, views.length);
      for (const v of views) io.release(v);
    });
    assertEquals(io.sharedInUse, 0, "read images came back");
    // A failing call (a closed descriptor) still gives its buffer back.
    const image = io.image(2 * CS);
    await assertRejects(
      () => io.write(batch(-1, 0), image, [CS, CS]),
      (e) => e instanceof ChunkIoError && e.errno === 9, // EBADF
    );
    await assertRejects(() => io.read(batch(-1, 0), 2), (e) => e instanceof ChunkIoError);
    assertEquals(io.sharedInUse, 0, "buffers of failed calls came back");
  } finally {
    io.close();
    sysClose(fd);
    await Deno.remove(dir, { recursive: true });
  }
});
