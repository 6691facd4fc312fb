/**
 * setattr through the library refuses values an inode record cannot hold (times that are not
 * bigints of nanoseconds or "now", owners outside 32 bits) with EINVAL, and changes nothing (times
 * beyond 64 bits of nanoseconds are clamped): the
 * file keeps its attributes, later changes are saved, and the data dir closes and opens cleanly.
 * Callers in plain JavaScript are not held to the types.
 */
import { assertEquals } from "./helpers/assert.ts";
import { expectErrno, freshFs, PASSWORD } from "./helpers/store.ts";
import { EncryptedFs } from "../mod.ts";
import { ROOT_INO, type SetAttrChanges } from "../src/fs/types.ts";

const enc = new TextEncoder();
const who = { uid: 1000, gid: 1000 };

Deno.test("setattr with a value a record cannot hold fails with EINVAL and changes nothing", async () => {
  const { fs, dir } = await freshFs();
  try {
    const { attr, fh } = await fs.create(ROOT_INO, enc.encode("f"), 0o100644, 0o101, who);
    await fs.release(attr.ino, fh);
    const bad = [
      { mtime: { sec: 1, nsec: 0 } },
      { atime: 1.5 },
      { uid: -1 },
      { gid: 2 ** 32 },
      { mode: 0.5 },
    ] as unknown as SetAttrChanges[];
    for (const ch of bad) await expectErrno(fs.setattr(attr.ino, ch), "EINVAL");
    const after = await fs.getattr(attr.ino);
    assertEquals([after.mode, after.uid, after.gid], [attr.mode, attr.uid, attr.gid]);
    assertEquals(after.mtimeNs, attr.mtimeNs);

    const far = await fs.setattr(attr.ino, { atime: 1n << 70n });
    assertEquals(far.atimeNs, (1n << 63n) - 1n, "a time beyond 64 bits is clamped");
    await fs.setattr(attr.ino, { mode: 0o100600, mtime: 5_000_000_000n });
    await fs.close();
    const again = await EncryptedFs.open(dir, { password: PASSWORD });
    const back = await again.lookup(ROOT_INO, enc.encode("f"));
    assertEquals([back.mode & 0o777, back.mtimeNs], [0o600, 5_000_000_000n]);
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
