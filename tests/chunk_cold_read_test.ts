/**
 * A single chunk read or partially rewritten while the backing file is not in the page cache:
 * `ContentFile` reads what the cache lacks on a pool thread (RWF_NOWAIT probe, then the range
 * read off the JS thread) and runs its step again. The bytes must be the same as when cached:
 * first versions (slot 0, slot 1 a hole), rewritten chunks (both slots), and the short last
 * chunk that ends at the end of the backing file.
 */
import { ROOT_INO } from "../src/fs/types.ts";
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { assertEquals } from "./helpers/assert.ts";
import { freshFs, n, PASSWORD, ROOT_CALLER, walkFiles } from "./helpers/store.ts";

const CS = 16384;
const SIZE = 3 * CS + 5000; // chunk 3 is short

function pattern(seed: number, length = SIZE): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 7 + seed * 13 + (i >> 9)) % 251);
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout);
}

// Drops the data dir's (synced, hence clean) files from the page cache; the bytes still cached.
async function evict(dir: string): Promise<number> {
  let cached = 0;
  for (const f of await walkFiles(dir)) {
    await run("dd", [`if=${f}`, "iflag=nocache", "count=0", "status=none"]);
    cached += Number((await run("fincore", ["-bn", "-o", "RES", f])).trim() || 0);
  }
  return cached;
}

async function has(cmd: string): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
}
const haveTools = await has("dd") && await has("fincore");

Deno.test({
  name: "chunks not in the page cache read and rewrite as when cached",
  ignore: !haveTools,
  fn: async () => {
    const { fs, dir } = await freshFs({ chunkSize: CS });
    await fs.close();
    const model = pattern(1);
    let ino = 0n;
    const open = () => EncryptedFs.open(dir, { password: PASSWORD });
    let again = await open();
    try {
      const { attr, fh } = await again.create(ROOT_INO, n("db"), 0o644, 2, ROOT_CALLER);
      ino = attr.ino;
      await again.write(ino, fh, 0, model);
      await again.fsync(ino, fh, true);
      // Chunks 1 and 3 get a second version (slot 1), synced.
      for (const at of [CS + 100, 3 * CS + 10]) {
        const patch = pattern(2, 3000);
        await again.write(ino, fh, at, patch);
        model.set(patch, at);
      }
      await again.fsync(ino, fh, true);
      await again.release(ino, fh);
    } finally {
      await again.close();
    }
    // A fresh open (the slot tracker knows nothing), every chunk cold.
    again = await open();
    try {
      assertEquals((await again.lookup(ROOT_INO, n("db"))).ino, ino);
      assertEquals(await evict(dir), 0, "the data dir's files left the page cache");
      const fh = await again.open(ino, 2);
      // Partial rewrites of every chunk: each reads its old bytes first.
      for (let i = 0; i < 4; i++) {
        const patch = pattern(3 + i, 700);
        const at = i * CS + 1000 + i * 500;
        await again.write(ino, fh, at, patch);
        model.set(patch, at);
      }
      await again.fsync(ino, fh, true);
      assertEquals(await evict(dir), 0);
      // Single-chunk reads, cold, then the whole file.
      for (let i = 0; i < 4; i++) {
        const at = i * CS + 1500;
        assertEquals(await again.read(ino, fh, at, 4096), model.slice(at, at + 4096), `chunk ${i}`);
      }
      assertEquals(await again.read(ino, fh, 0, SIZE + 10), model);
      await again.release(ino, fh);
    } finally {
      await again.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
