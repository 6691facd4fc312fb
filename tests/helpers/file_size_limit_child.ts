/**
 * Run by store_file_size_limit_test.ts under `ulimit -f` (a file size limit of a few MiB, as a
 * small backing filesystem would have): tries writes, truncations and fallocates past it and
 * with bad offsets through the library, and prints what each gave, and the sizes after a reopen,
 * as JSON.
 */
import { ROOT_INO } from "../../src/fs/types.ts";
import { EncryptedFs } from "../../src/fs/encrypted_fs.ts";
import { FsError } from "../../src/fs/errors.ts";
import { n, PASSWORD, ROOT_CALLER, TEST_KDF } from "./store.ts";

const dir = Deno.args[0];
const out: Record<string, unknown> = {};
const outcome = async (what: string, f: () => Promise<unknown>) => {
  try {
    await f();
    out[what] = "ok";
  } catch (e) {
    out[what] = e instanceof FsError ? e.code : String(e);
  }
};

const { fs } = await EncryptedFs.create(dir, PASSWORD, { kdfCost: TEST_KDF });
const a = await fs.create(ROOT_INO, n("a"), 0o644, 2, ROOT_CALLER);
const ino = a.attr.ino;
const data = new Uint8Array(3000).fill(1);
await outcome("write at 0", () => fs.write(ino, a.fh, 0, data));
await outcome("write at 64 MiB", () => fs.write(ino, a.fh, 64 << 20, data));
await outcome("write at 2^62", () => fs.write(ino, a.fh, 2 ** 62, data));
await outcome("truncate to 64 MiB", () => fs.setattr(ino, { size: 64 << 20 }));
await outcome("fallocate to 64 MiB", () => fs.fallocate(ino, a.fh, 0, 64 << 20, 0));
await outcome("write at -1", () => fs.write(ino, a.fh, -1, data));
await outcome("write at 1.5", () => fs.write(ino, a.fh, 1.5, data));
await outcome("write at NaN", () => fs.write(ino, a.fh, NaN, data));
await outcome("read at NaN", () => fs.read(ino, a.fh, NaN, 10));
await outcome("truncate to -1", () => fs.setattr(ino, { size: -1 }));
out["size before reopen"] = (await fs.getattr(ino)).size;
await fs.release(ino, a.fh);
await fs.close();

const again = await EncryptedFs.open(dir, { password: PASSWORD });
const attr = await again.lookup(ROOT_INO, n("a"));
out["size after reopen"] = attr.size;
const fh = await again.open(attr.ino, 0);
out["bytes match"] = (await again.read(attr.ino, fh, 0, 4000)).every((b, i) => i < 3000 && b === 1);
await again.release(attr.ino, fh);
await again.close();
console.log(JSON.stringify(out));
