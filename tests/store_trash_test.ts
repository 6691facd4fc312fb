// Removed objects leave their names at once and their storage in the background (src/store/trash.ts).
import { assertEquals } from "./helpers/assert.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { freshFs, n, PASSWORD, ROOT_CALLER, walkFiles } from "./helpers/store.ts";

Deno.test("removed files and directories are gone from the data dir once it is closed; crash leftovers in t/ are swept", async () => {
  const { fs, dir } = await freshFs();
  const before = (await walkFiles(dir)).length;
  const d = await fs.mkdir(ROOT_INO, n("d"), 0o755, ROOT_CALLER);
  for (let i = 0; i < 50; i++) {
    const { attr, fh } = await fs.create(d.ino, n(`f${i}`), 0o644, 2, ROOT_CALLER);
    await fs.write(attr.ino, fh, 0, new Uint8Array(100_000).fill(i));
    await fs.release(attr.ino, fh);
    await fs.unlink(d.ino, n(`f${i}`));
  }
  await fs.rmdir(ROOT_INO, n("d"));
  await fs.close();
  assertEquals((await walkFiles(dir)).length, before);
  // What a crash left in the trash is deleted at the next writable open.
  await Deno.writeFile(`${dir}/t/leftover`, new Uint8Array(10));
  await Deno.mkdir(`${dir}/t/leftover-dir`);
  await Deno.writeFile(`${dir}/t/leftover-dir/x`, new Uint8Array(10));
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  await fs2.close();
  assertEquals([...Deno.readDirSync(`${dir}/t`)].length, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a symlink planted as the trash is never followed: nothing outside the data dir is deleted", async () => {
  const { fs, dir } = await freshFs();
  await fs.close();
  const victim = await Deno.makeTempDir();
  await Deno.writeTextFile(`${victim}/keep`, "keep me");
  await Deno.remove(`${dir}/t`, { recursive: true }).catch(() => {});
  await Deno.symlink(victim, `${dir}/t`);
  const fs2 = await EncryptedFs.open(dir, { password: PASSWORD });
  const { attr, fh } = await fs2.create(ROOT_INO, n("x"), 0o644, 2, ROOT_CALLER);
  await fs2.release(attr.ino, fh);
  await fs2.unlink(ROOT_INO, n("x"));
  await fs2.close();
  assertEquals(await Deno.readTextFile(`${victim}/keep`), "keep me");
  assertEquals([...Deno.readDirSync(victim)].length, 1);
  await Deno.remove(victim, { recursive: true });
  await Deno.remove(dir, { recursive: true });
});
