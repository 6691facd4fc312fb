/**
 * Filling a sparse file at random places splits its one hole range into many: the hole list,
 * kept in the file's record (at most 64 ranges), must stay bounded for writes inside the file
 * too, not only for writes that extend it. Seen as EIO on msync ("record … exceeds its slot")
 * after random page writes through mmap into `truncate -s 64M f`.
 */
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { MAX_HOLES } from "../src/store/holes.ts";
import { assertEquals } from "./helpers/assert.ts";
import { freshFs, n, PASSWORD, prng, ROOT_CALLER } from "./helpers/store.ts";

const CS = 4096;
const CHUNKS = 2048; // an 8 MiB sparse file

Deno.test("random writes inside a sparse file keep its hole list bounded and every byte", async () => {
  const { fs, dir } = await freshFs({ chunkSize: CS });
  const { attr, fh } = await fs.create(ROOT_INO, n("sparse"), 0o644, 2, ROOT_CALLER);
  await fs.setattr(attr.ino, { size: CHUNKS * CS });
  const model = new Uint8Array(CHUNKS * CS);
  const r = prng(7);
  for (let k = 0; k < 600; k++) {
    const at = Math.floor(r() * CHUNKS) * CS + Math.floor(r() * 2) * 2048;
    const data = new Uint8Array(2048).fill(1 + (k % 250));
    await fs.write(attr.ino, fh, at, data);
    model.set(data, at);
  }
  await fs.fsync(attr.ino, fh, false);
  await fs.release(attr.ino, fh);
  await fs.close();
  const again = await EncryptedFs.open(dir, { password: PASSWORD });
  try {
    const a = await again.lookup(ROOT_INO, n("sparse"));
    assertEquals(a.size, CHUNKS * CS);
    const h = await again.open(a.ino, 0);
    const got = new Uint8Array(CHUNKS * CS);
    for (let off = 0; off < got.length; off += 1 << 20) {
      got.set(await again.read(a.ino, h, off, 1 << 20), off);
    }
    await again.release(a.ino, h);
    assertEquals(got, model);
    assertEquals(MAX_HOLES, 64);
  } finally {
    await again.close();
    await Deno.remove(dir, { recursive: true });
  }
});
