// A read racing a truncation sees the file before or after it (possibly short), never EIO:
// POSIX allows a short read there, not an error (fsx with mmap found "chunk N is missing").
import { ok as assert } from "node:assert";
import { ROOT_INO } from "../src/fs/types.ts";
import { freshFs, n, prng, ROOT_CALLER } from "./helpers/store.ts";

Deno.test("reads racing truncations never fail and show only bytes the file held", async () => {
  const CS = 4096;
  const { fs, dir } = await freshFs({ chunkSize: CS });
  try {
    const r = prng(7);
    const data = new Uint8Array(64 * CS).map(() => 1 + Math.floor(r() * 255));
    const { attr, fh } = await fs.create(ROOT_INO, n("f"), 0o644, 2, ROOT_CALLER);
    const ino = attr.ino;
    await fs.write(ino, fh, 0, data);
    let stop = false;
    let reads = 0;
    const reader = async () => {
      while (!stop) {
        const off = Math.floor(r() * data.length);
        const len = 1 + Math.floor(r() * 8 * CS);
        const got = await fs.read(ino, fh, off, len);
        assert(got.length <= len);
        for (let k = 0; k < got.length; k++) {
          // Each byte is the one written there, or a zero of a truncation that grew it back.
          if (got[k] !== 0 && got[k] !== data[off + k]) {
            throw new Error(`byte ${off + k}: ${got[k]}, wrote ${data[off + k]}`);
          }
        }
        reads++;
        // Let the truncations' timers run too.
        if (reads % 8 === 0) await new Promise((res) => setTimeout(res, 0));
      }
    };
    const truncator = async () => {
      for (let i = 0; i < 300; i++) {
        const size = Math.floor(r() * data.length);
        await fs.setattr(ino, { size });
        // Grow back with the original bytes half of the time, with zeros otherwise.
        if (i % 2) await fs.write(ino, fh, size, data.subarray(size));
        else await fs.setattr(ino, { size: data.length });
        if (i % 16 === 0) await new Promise((res) => setTimeout(res, 0));
      }
      stop = true;
    };
    await Promise.all([truncator(), reader(), reader(), reader()]);
    assert(reads > 50, `only ${reads} reads ran`);
    await fs.release(ino, fh);
  } finally {
    await fs.close();
    await Deno.remove(dir, { recursive: true });
  }
});
