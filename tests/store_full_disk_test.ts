// A full disk: the write that does not fit fails with ENOSPC (not EIO, not a crash), and what
// was stored before reads back intact, before and after reopening; closing frees what removed
// files held before it gives up on a record write. Needs root (a small tmpfs).
import { assertEquals, assertRejects } from "./helpers/assert.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { FsError } from "../src/fs/errors.ts";
import { n, PASSWORD, ROOT_CALLER, TEST_KDF } from "./helpers/store.ts";

const root = Deno.uid() === 0;

Deno.test({
  name: "a full disk gives ENOSPC on the write that does not fit; earlier data stays readable",
  ignore: !root,
  fn: async () => {
    const mnt = await Deno.makeTempDir({ prefix: "rencfs-full-" });
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt],
    }).output();
    assertEquals(mount.success, true, new TextDecoder().decode(mount.stderr));
    try {
      const dir = `${mnt}/data`;
      const { fs } = await EncryptedFs.create(dir, PASSWORD, { kdfCost: TEST_KDF });
      const kept = crypto.getRandomValues(new Uint8Array(65536));
      const a = await fs.create(ROOT_INO, n("kept"), 0o644, 2, ROOT_CALLER);
      await fs.write(a.attr.ino, a.fh, 0, kept);
      await fs.release(a.attr.ino, a.fh);

      const b = await fs.create(ROOT_INO, n("big"), 0o644, 2, ROOT_CALLER);
      const mib = new Uint8Array(1 << 20).fill(7);
      let code = "";
      await assertRejects(async () => {
        for (let off = 0; off < 16 << 20; off += mib.length) {
          await fs.write(b.attr.ino, b.fh, off, mib);
        }
      }, (e) => {
        code = (e as FsError).code;
        return e instanceof FsError;
      });
      assertEquals(code, "ENOSPC");
      await fs.release(b.attr.ino, b.fh);

      const r = await fs.open(a.attr.ino, 0);
      assertEquals(await fs.read(a.attr.ino, r, 0, kept.length), kept);
      await fs.release(a.attr.ino, r);
      await fs.unlink(ROOT_INO, n("big"));
      await fs.close();

      const again = await EncryptedFs.open(dir, { password: PASSWORD });
      const e = await again.lookup(ROOT_INO, n("kept"));
      const h = await again.open(e.ino, 0);
      assertEquals(await again.read(e.ino, h, 0, kept.length), kept);
      await again.release(e.ino, h);
      await again.close();
    } finally {
      await new Deno.Command("umount", { args: [mnt] }).output();
      await Deno.remove(mnt, { recursive: true });
    }
  },
});
