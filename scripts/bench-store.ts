// Library-level benchmark of the encrypted store (no FUSE): sequential write and read MB/s,
// random 4 KiB read and write IOPS, and the peak resident memory of the process.
//   deno run -A scripts/bench-store.ts [--size-mib 1024] [--chunk-size 65536]
//     [--cipher xchacha20-poly1305] [--seconds 10] [--dir /var/tmp] [--format 3]
import { parseArgs } from "node:util";
import { EncryptedFs } from "../mod.ts";
import { type CipherName, DEFAULT_CIPHER, isCipherName } from "../src/crypto/aead.ts";
import { ROOT_INO } from "../src/fs/types.ts";

const { values } = parseArgs({
  options: {
    "size-mib": { type: "string", default: "1024" },
    "chunk-size": { type: "string", default: "65536" },
    cipher: { type: "string", default: DEFAULT_CIPHER },
    seconds: { type: "string", default: "10" },
    dir: { type: "string", default: "/var/tmp" },
    "in-flight": { type: "string", default: "16" },
    // Format version of the data dir (2: one slot per chunk, 3: two), to compare layouts.
    format: { type: "string", default: "3" },
  },
});
if (!isCipherName(values.cipher)) throw new Error(`unknown cipher ${values.cipher}`);
const sizeMiB = Number(values["size-mib"]);
const chunkSize = Number(values["chunk-size"]);
const seconds = Number(values.seconds);
const inFlight = Number(values["in-flight"]);
const MiB = 1 << 20;

let peakRss = 0;
const sampler = setInterval(() => peakRss = Math.max(peakRss, Deno.memoryUsage().rss), 50);

const dir = await Deno.makeTempDir({ dir: values.dir, prefix: "rencfs-bench-store-" });
const { fs } = await EncryptedFs.create(dir, "bench password", {
  cipher: values.cipher as CipherName,
  chunkSize,
  kdfCost: { memoryKiB: 8192, iterations: 1 },
  formatVersion: Number(values.format) as 1 | 2 | 3,
});
const { attr, fh } = await fs.create(ROOT_INO, new TextEncoder().encode("f"), 0o644, 2, {
  uid: 0,
  gid: 0,
});
const block = crypto.getRandomValues(new Uint8Array(65536));
const buf = new Uint8Array(MiB);
for (let i = 0; i < MiB; i += block.length) buf.set(block, i);

const dropCaches = async () => {
  await fs.syncAll();
  try {
    await Deno.writeTextFile("/proc/sys/vm/drop_caches", "3");
  } catch { /* not root: warm cache */ }
};

// Sequential write: 1 MiB writes, a few in flight as the kernel sends them through FUSE.
const t = performance.now();
for (let off = 0; off < sizeMiB * MiB; off += MiB * 4) {
  const ws = [];
  for (let k = 0; k < 4 && off + k * MiB < sizeMiB * MiB; k++) {
    ws.push(fs.write(attr.ino, fh, off + k * MiB, buf));
  }
  await Promise.all(ws);
}
const mbs = (since: number) => (sizeMiB * MiB) / 1e6 / ((performance.now() - since) / 1000);
// Two figures each: what the store does (data in the page cache), and with the disk in it
// (write until fsync returns; read after the page cache was dropped).
const cachedWriteMBs = mbs(t);
await fs.fsync(attr.ino, fh, false);
const writeMBs = mbs(t);

async function readAll(): Promise<number> {
  const t = performance.now();
  for (let off = 0; off < sizeMiB * MiB; off += MiB * 4) {
    const rs = [];
    for (let k = 0; k < 4; k++) rs.push(fs.read(attr.ino, fh, off + k * MiB, MiB));
    await Promise.all(rs);
  }
  return mbs(t);
}
const cachedReadMBs = await readAll();
await dropCaches();
const readMBs = await readAll();

async function randomOps(write: boolean): Promise<number> {
  const blocks = Math.floor((sizeMiB * MiB) / 4096);
  const data = block.subarray(0, 4096);
  let ops = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const off = Math.floor(Math.random() * blocks) * 4096;
      if (write) await fs.write(attr.ino, fh, off, data);
      else await fs.read(attr.ino, fh, off, 4096);
      ops++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return ops / ((performance.now() - t0) / 1000);
}
await dropCaches();
const randRead = await randomOps(false);
const randWrite = await randomOps(true);
await fs.release(attr.ino, fh);
await fs.close();
clearInterval(sampler);
await Deno.remove(dir, { recursive: true });

const f = (x: number) => x.toFixed(0);
console.log(
  `| ${values.cipher} | ${chunkSize / 1024} KiB | ${f(cachedWriteMBs)} | ${f(writeMBs)} | ${
    f(cachedReadMBs)
  } | ${f(readMBs)} | ${f(randRead)} | ${f(randWrite)} | ${f(peakRss / MiB)} |`,
);
