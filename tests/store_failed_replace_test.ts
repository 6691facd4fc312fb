/**
 * A rename over a file that fails (here: the backing folder made immutable, so rename(2) is
 * refused) leaves both files as they were, and the target's name can still be removed: an
 * unlink afterwards removes its entry file, not the trash link made for the failed replace
 * (which left the name on disk, back at the next open). Needs root and chattr on the temporary
 * directory's filesystem; skipped otherwise.
 */
import { assertEquals } from "./helpers/assert.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { expectErrno, freshFs, n, readText, walkFiles, writeNew } from "./helpers/store.ts";

// Sets (`+i`) or clears (`-i`) the immutable flag of `path`; false when that is not possible.
function chattr(flag: "+i" | "-i", path: string): boolean {
  try {
    return new Deno.Command("chattr", { args: [flag, path], stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

Deno.test("after a failed rename over a live file, unlinking that file removes its name", async () => {
  if (Deno.uid() !== 0) {
    console.warn("skipped: needs root (chattr +i)");
    return;
  }
  const { fs, dir } = await freshFs();
  try {
    await writeNew(fs, ROOT_INO, "a", "from a");
    await writeNew(fs, ROOT_INO, "b", "from b");
    // As the kernel does before a rename: both names looked up (and kept).
    const b = (await fs.lookup(ROOT_INO, n("b"))).ino;
    fs.retain(b);
    const a = (await fs.lookup(ROOT_INO, n("a"))).ino;
    fs.retain(a);
    // The root's entry folder: the one folder holding both entry files.
    const entries = (await walkFiles(dir)).filter((p) => p.includes(".d/"));
    assertEquals(entries.length, 2);
    const folder = entries[0].slice(0, entries[0].lastIndexOf("/"));
    if (!chattr("+i", folder)) {
      console.warn("skipped: chattr +i not supported here");
      return;
    }
    try {
      await expectErrno(fs.rename(ROOT_INO, n("a"), ROOT_INO, n("b"), 0), "EPERM");
    } finally {
      chattr("-i", folder);
    }
    assertEquals(await readText(fs, ROOT_INO, "a"), "from a");
    assertEquals(await readText(fs, ROOT_INO, "b"), "from b");

    await fs.unlink(ROOT_INO, n("b"));
    await expectErrno(fs.lookup(ROOT_INO, n("b")), "ENOENT");
    assertEquals(await readText(fs, ROOT_INO, "a"), "from a");
    fs.forget(b, 1);
    fs.forget(a, 1);
    await fs.close();
    // Only a's entry file is left (and no trash behind).
    const left = (await walkFiles(dir)).filter((p) => p.includes(".d/") || p.includes("/t/"));
    assertEquals(left.length, 1);
  } finally {
    await fs.close().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
