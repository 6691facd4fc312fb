import { EncryptedFs } from "../mod.ts";
const dir = await Deno.makeTempDir({ dir: "/dev/shm" });
const { fs } = await EncryptedFs.create(dir, "pw", { kdfCost: { memoryKiB: 8192, iterations: 1 } });
const { attr, fh } = await fs.create(1n, new TextEncoder().encode("f"), 0o644, 2, {
  uid: 0,
  gid: 0,
});
const buf = new Uint8Array(1 << 20).fill(7);
const t = performance.now();
for (let i = 0; i < 512; i++) await fs.write(attr.ino, fh, i << 20, buf);
console.log("write MB/s", 512 * 1.048576 / ((performance.now() - t) / 1000));
const t2 = performance.now();
for (let i = 0; i < 512; i++) await fs.read(attr.ino, fh, i << 20, 1 << 20);
console.log("read MB/s", 512 * 1.048576 / ((performance.now() - t2) / 1000));
await fs.release(attr.ino, fh);
await fs.close();
await Deno.remove(dir, { recursive: true });
