// Writes into one chunk that wait for its lock are stored together (FileData #writeInChunk):
// every one of them lands, in the order they were issued, and stays after a reopen.
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { freshFs, n, PASSWORD, prng, ROOT_CALLER } from "./helpers/store.ts";

const CS = 16 * 1024;

// The first byte where `got` differs from `want` (a whole-array diff of 100 KiB is too slow).
function sameBytes(got: Uint8Array, want: Uint8Array): void {
  const i = got.findIndex((b, k) => b !== want[k]);
  assertEquals({ length: got.length, firstDifference: i }, {
    length: want.length,
    firstDifference: -1,
  });
}

Deno.test("writes into one chunk issued together all land, in the order they were issued", async () => {
  const { fs, dir } = await freshFs({ chunkSize: CS });
  let reopened: EncryptedFs | null = null;
  try {
    const r = prng(11);
    const size = 8 * CS + 1000; // a short last chunk too
    const model = new Uint8Array(size).map(() => 1 + Math.floor(r() * 255));
    const { attr, fh } = await fs.create(ROOT_INO, n("f"), 0o644, 2, ROOT_CALLER);
    const ino = attr.ino;
    await fs.write(ino, fh, 0, model.slice());
    // Rounds of writes issued without waiting, each inside one chunk, many overlapping (a few
    // chunks only), some whole pages as the kernel's write-back sends them.
    for (let round = 0; round < 20; round++) {
      const writes: Promise<number>[] = [];
      for (let k = 0; k < 40; k++) {
        const chunk = Math.floor(r() * 3) * 3; // chunks 0, 3 and 6
        const inChunk = Math.min(CS, size - chunk * CS);
        const page = r() < 0.5;
        const at = page ? Math.floor(r() * (inChunk / 4096)) * 4096 : Math.floor(r() * inChunk);
        const len = page ? 4096 : 1 + Math.floor(r() * (inChunk - at));
        const bytes = new Uint8Array(len).map(() => Math.floor(r() * 256));
        model.set(bytes, chunk * CS + at);
        writes.push(fs.write(ino, fh, chunk * CS + at, bytes));
      }
      await Promise.all(writes);
    }
    sameBytes(await fs.read(ino, fh, 0, size + 10), model);
    await fs.release(ino, fh);
    await fs.close();
    reopened = await EncryptedFs.open(dir, { password: PASSWORD });
    const again = (await reopened.lookup(ROOT_INO, n("f"))).ino;
    const h = await reopened.open(again, 0);
    sameBytes(await reopened.read(again, h, 0, size + 10), model);
    await reopened.release(again, h);
  } finally {
    await (reopened ?? fs).close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writes across chunks and inside them, issued together, all land", async () => {
  const { fs, dir } = await freshFs({ chunkSize: CS });
  try {
    const r = prng(12);
    const size = 12 * CS;
    const model = new Uint8Array(size).map(() => 1 + Math.floor(r() * 255));
    const { attr, fh } = await fs.create(ROOT_INO, n("g"), 0o644, 2, ROOT_CALLER);
    const ino = attr.ino;
    await fs.write(ino, fh, 0, model.slice());
    // Disjoint ranges (any order gives the same bytes): 1 KiB to 40 KiB pieces of the file,
    // many inside one chunk, some across two or three.
    const writes: Promise<number>[] = [];
    for (let at = 0; at < size;) {
      const len = Math.min(size - at, 1024 * (1 + Math.floor(r() * 40)));
      const bytes = new Uint8Array(len).map(() => Math.floor(r() * 256));
      model.set(bytes, at);
      writes.push(fs.write(ino, fh, at, bytes));
      at += len + Math.floor(r() * 2048);
    }
    await Promise.all(writes);
    sameBytes(await fs.read(ino, fh, 0, size), model);
    await fs.release(ino, fh);
  } finally {
    await fs.close();
    await Deno.remove(dir, { recursive: true });
  }
});
