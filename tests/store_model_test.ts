// Seeded random read/write/truncate sequences against an in-memory model: whatever the chunk
// size, offsets, holes and chunk boundaries, and whichever thread seals the chunks (this one for
// small writes, the chunk worker for large ones), the encrypted file reads back exactly the model.
import { assertEquals } from "./helpers/assert.ts";
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { freshFs, n, PASSWORD, prng, ROOT_CALLER } from "./helpers/store.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { concat } from "../src/util/codec.ts";
import { SYNC_WRITE_BYTES } from "../src/store/content_file.ts";

async function runModel(chunkSize: number, seed: number, ops: number) {
  const { fs, dir } = await freshFs({ chunkSize });
  const rand = prng(seed);
  const { attr, fh } = await fs.create(ROOT_INO, n("f"), 0o644, 2, ROOT_CALLER);
  let model = new Uint8Array(0);
  const kept: { pieces: Uint8Array[]; want: Uint8Array; at: number }[] = [];
  const maxSize = chunkSize * 12;
  const pick = (k: number) => Math.floor(rand() * k);
  for (let i = 0; i < ops; i++) {
    const op = pick(10);
    if (op < 5) {
      // write, often near chunk boundaries
      const near = pick(2) === 0;
      const off = near ? Math.max(0, pick(12) * chunkSize + pick(9) - 4) : pick(maxSize);
      // Mostly small; now and then one large enough for the chunk worker (a stream's write).
      const len = pick(12) === 0
        ? SYNC_WRITE_BYTES + 1 + pick(chunkSize * 2)
        : 1 + pick(pick(3) === 0 ? chunkSize * 3 : 300);
      const data = new Uint8Array(len).map(() => pick(256));
      if (pick(2) === 0) {
        // A buffer the store may take over (an aligned write hands it to the worker as is).
        const owned = fs.writeBuffer(len);
        owned.set(data);
        await fs.write(attr.ino, fh, off, owned);
      } else {
        await fs.write(attr.ino, fh, off, data);
      }
      if (off + len > model.length) {
        const m = new Uint8Array(off + len);
        m.set(model);
        model = m;
      }
      model.set(data, off);
    } else if (op < 8) {
      const off = pick(model.length + chunkSize);
      const len = pick(chunkSize * 3);
      const want = model.slice(Math.min(off, model.length), Math.min(off + len, model.length));
      if (pick(2) === 0) {
        const got = await fs.read(attr.ino, fh, off, len);
        assertEquals(got, want, `op ${i}: read ${off}+${len} of ${model.length}`);
      } else {
        // Pieces are handed back (their buffers reused) or kept: kept ones must never change.
        const lease = await fs.readPieces(attr.ino, fh, off, len);
        const pieces = [...lease.views];
        assertEquals(
          concat(...pieces),
          want,
          `op ${i}: readPieces ${off}+${len} of ${model.length}`,
        );
        if (pick(2) === 0) lease.release();
        else kept.push({ pieces, want, at: i });
      }
    } else {
      const size = pick(3) === 0 ? pick(maxSize) : pick(12) * chunkSize + pick(3);
      await fs.setattr(attr.ino, { size });
      const m = new Uint8Array(size);
      m.set(model.subarray(0, Math.min(size, model.length)));
      model = m;
    }
    assertEquals((await fs.getattr(attr.ino)).size, model.length);
  }
  for (const k of kept) assertEquals(concat(...k.pieces), k.want, `pieces kept from op ${k.at}`);
  await fs.release(attr.ino, fh);
  await fs.close();
  // Everything survives a reopen.
  const again = await EncryptedFs.open(dir, { password: PASSWORD });
  const a2 = await again.lookup(ROOT_INO, n("f"));
  assertEquals(a2.size, model.length);
  const fh2 = await again.open(a2.ino, 0);
  assertEquals(await again.read(a2.ino, fh2, 0, model.length + 10), model);
  await again.release(a2.ino, fh2);
  await again.close();
  await Deno.remove(dir, { recursive: true });
}

for (const chunkSize of [4096, 16384, 65536]) {
  Deno.test(`random read/write/truncate matches the model (chunk ${chunkSize})`, async () => {
    await runModel(chunkSize, chunkSize + 7, 1500);
  });
}

Deno.test("holes read as zeros and a file grown by truncate reads zeros", async () => {
  const { fs, dir } = await freshFs({ chunkSize: 4096 });
  const { attr, fh } = await fs.create(ROOT_INO, n("h"), 0o644, 2, ROOT_CALLER);
  await fs.write(attr.ino, fh, 10 * 4096 + 5, n("tail"));
  const all = await fs.read(attr.ino, fh, 0, 11 * 4096);
  assertEquals(all.length, 10 * 4096 + 9);
  assertEquals(all.subarray(0, 10 * 4096 + 5).every((b) => b === 0), true);
  await fs.setattr(attr.ino, { size: 3 });
  await fs.setattr(attr.ino, { size: 50_000 });
  const grown = await fs.read(attr.ino, fh, 0, 60_000);
  assertEquals(grown.length, 50_000);
  assertEquals(grown.every((b) => b === 0), true, "stale bytes past a truncation never reappear");
  const st = await fs.getattr(attr.ino);
  assertEquals(st.blocks < 50_000 / 512, true, "holes take no blocks");
  await fs.release(attr.ino, fh);
  await fs.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parallel writers to distinct ranges of one file lose no update", async () => {
  const { fs, dir } = await freshFs({ chunkSize: 16384 });
  const { attr, fh } = await fs.create(ROOT_INO, n("p"), 0o644, 2, ROOT_CALLER);
  const piece = 5000; // not chunk-aligned: neighbours share chunks
  const count = 64;
  await Promise.all(
    Array.from(
      { length: count },
      (_, i) => fs.write(attr.ino, fh, i * piece, new Uint8Array(piece).fill(i + 1)),
    ),
  );
  const got = await fs.read(attr.ino, fh, 0, count * piece);
  for (let i = 0; i < count; i++) {
    assertEquals(
      got.subarray(i * piece, (i + 1) * piece).every((b) => b === i + 1),
      true,
      `piece ${i}`,
    );
  }
  await fs.release(attr.ino, fh);
  await fs.close();
  await Deno.remove(dir, { recursive: true });
});

for (const cipher of ["aes-256-gcm", "xchacha20-poly1305"] as const) {
  Deno.test(`every cipher round-trips files and reopens (${cipher})`, async () => {
    const { fs, dir } = await freshFs({ cipher, chunkSize: 16384 });
    const data = new Uint8Array(100_000).map((_, i) => (i * 131 + 7) & 255);
    const { attr, fh } = await fs.create(ROOT_INO, n("c"), 0o644, 2, ROOT_CALLER);
    await fs.write(attr.ino, fh, 0, data);
    await fs.write(attr.ino, fh, 70_000, data.subarray(0, 5));
    data.set(data.subarray(0, 5), 70_000);
    await fs.release(attr.ino, fh);
    await fs.close();
    const again = await EncryptedFs.open(dir, { password: PASSWORD });
    assertEquals(again.header.cipher, cipher);
    const a = await again.lookup(ROOT_INO, n("c"));
    const h = await again.open(a.ino, 0);
    assertEquals(await again.read(a.ino, h, 0, 200_000), data);
    await again.release(a.ino, h);
    await again.close();
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("sequential reads with read-ahead see every write and truncation made meanwhile", async () => {
  const { fs, dir } = await freshFs({ chunkSize: 4096 });
  const { attr, fh } = await fs.create(ROOT_INO, n("ra"), 0o644, 2, ROOT_CALLER);
  const size = 4096 * 64;
  const model = new Uint8Array(size).map((_, i) => i % 251);
  await fs.write(attr.ino, fh, 0, model);
  const rand = prng(99);
  for (let round = 0; round < 20; round++) {
    let off = 0;
    const step = 4096 * (1 + Math.floor(rand() * 3));
    while (off < model.length) {
      const got = await fs.read(attr.ino, fh, off, step);
      assertEquals(
        got,
        model.slice(off, Math.min(off + step, model.length)),
        `round ${round} @${off}`,
      );
      // Change a region ahead of the reader (already fetched ahead, most likely).
      const at = Math.min(model.length - 10, off + step + Math.floor(rand() * 20000));
      if (at > off + step) {
        const patch = new Uint8Array(10).fill(round + 1);
        await fs.write(attr.ino, fh, at, patch);
        model.set(patch, at);
      }
      off += step;
    }
  }
  // A truncation while a reader is mid-file: reads past the new end are short.
  await fs.read(attr.ino, fh, 0, 8192);
  await fs.read(attr.ino, fh, 8192, 8192);
  await fs.setattr(attr.ino, { size: 10000 });
  assertEquals((await fs.read(attr.ino, fh, 8192, 8192)).length, 10000 - 8192);
  await fs.setattr(attr.ino, { size: 20000 });
  const tail = await fs.read(attr.ino, fh, 10000, 10000);
  assertEquals(tail.every((b) => b === 0), true);
  await fs.release(attr.ino, fh);
  await fs.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("read pieces handed back are reused for later reads; pieces kept never change", async () => {
  // 64 KiB chunks: sequential reads go through the read-ahead and the worker's batch images.
  const { fs, dir } = await freshFs({ chunkSize: 65536 });
  const { attr, fh } = await fs.create(ROOT_INO, n("r"), 0o644, 2, ROOT_CALLER);
  const model = new Uint8Array(65536 * 80 + 123).map((_, i) => (i * 13 + (i >> 16)) % 251);
  await fs.write(attr.ino, fh, 0, model);
  const kept: { pieces: Uint8Array[]; off: number }[] = [];
  const released: Uint8Array[] = [];
  for (let pass = 0; pass < 3; pass++) {
    const step = [131072, 65536 + 4096, 4096][pass];
    for (let off = 0; off < model.length; off += step * 4) {
      const offs = [0, 1, 2, 3].map((k) => off + k * step);
      const got = await Promise.all(offs.map((o) => fs.readPieces(attr.ino, fh, o, step)));
      offs.forEach((o, k) => {
        const pieces = [...got[k].views];
        assertEquals(concat(...pieces), model.slice(o, o + step), `pass ${pass} @${o}`);
        if ((o / step) % 7 === 3) kept.push({ pieces, off: o });
        else {
          got[k].release();
          released.push(...pieces);
        }
      });
      // A write drops what was fetched ahead: those buffers come back too.
      if (off % (step * 40) === 0) await fs.write(attr.ino, fh, off, model.slice(off, off + 10));
    }
  }
  // Buffers whose every chunk came back were reused. Batch images are shared buffers (far
  // fewer of them than pieces); single chunks are moved to a new ArrayBuffer on reuse, which
  // leaves the views handed back detached.
  const shared = released.filter((p) => p.buffer instanceof SharedArrayBuffer);
  const buffers = new Set(shared.map((p) => p.buffer)).size;
  assertEquals(buffers > 0 && buffers * 4 < shared.length, true, `${buffers} shared buffers`);
  assertEquals(released.some((p) => p.length === 0), true, "no single chunk came back");
  for (const k of kept) {
    const len = concat(...k.pieces).length;
    assertEquals(concat(...k.pieces), model.slice(k.off, k.off + len), `kept @${k.off}`);
  }
  await fs.release(attr.ino, fh);
  await fs.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parallel sequential reads (several in flight, finishing out of order) read the file", async () => {
  const { fs, dir } = await freshFs({ chunkSize: 4096 });
  const { attr, fh } = await fs.create(ROOT_INO, n("p"), 0o644, 2, ROOT_CALLER);
  const model = new Uint8Array(4096 * 300).map((_, i) => (i * 7) % 253);
  await fs.write(attr.ino, fh, 0, model);
  for (const step of [4096, 12288, 65536]) {
    for (let off = 0; off < model.length; off += step * 4) {
      const offs = [0, 1, 2, 3].map((k) => off + k * step);
      const got = await Promise.all(offs.map((o) => fs.read(attr.ino, fh, o, step)));
      offs.forEach((o, k) =>
        assertEquals(got[k], model.slice(o, Math.min(o + step, model.length)), `${step} @${o}`)
      );
    }
  }
  await fs.release(attr.ino, fh);
  await fs.close();
  await Deno.remove(dir, { recursive: true });
});
