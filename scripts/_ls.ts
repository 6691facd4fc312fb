import { EncryptedFs } from "../mod.ts";
const dir = await Deno.makeTempDir({ dir: "/var/tmp" });
const { fs } = await EncryptedFs.create(dir, "pw", { kdfCost: { memoryKiB: 8192, iterations: 1 } });
const enc = new TextEncoder();
const N = Number(Deno.args[0] ?? 20000);
let t = performance.now();
for (let i = 0; i < N; i++) {
  await fs.mknod(1n, enc.encode(`file-with-a-longer-name-${i}`), 0o100644, 0, { uid: 0, gid: 0 });
}
console.log("mknod/s", (N / ((performance.now() - t) / 1000)).toFixed(0));
await fs.close();
const fs2 = await EncryptedFs.open(dir, { password: "pw" });
t = performance.now();
const dh = await fs2.opendir(1n);
const l = await fs2.readdir(1n, dh, 0n, 1e9);
console.log("readdir", l.length, "entries in", (performance.now() - t).toFixed(0), "ms");
t = performance.now();
for (const e of l.slice(2)) await fs2.getattr(e.ino);
console.log("getattr all", (performance.now() - t).toFixed(0), "ms");
await fs2.close();
await Deno.remove(dir, { recursive: true });
