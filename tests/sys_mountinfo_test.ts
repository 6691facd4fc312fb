/**
 * The one mount-table parser and unmount helper (`ffi/mounts.ts`, `ffi/unmount.ts`) that the CLI
 * and the FUSE adapter share: escaped mount points, optional fields, the topmost of stacked
 * mounts, and, as root, a real mount found and unmounted at a path with a space in it.
 */
import { assertEquals } from "./helpers/assert.ts";
import { findMount, isFuse, parseMountInfo } from "../ffi/mounts.ts";
import { isRoot, unmount, unmountCommand } from "../ffi/unmount.ts";

const SAMPLE = [
  "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
  String.raw`36 22 0:31 / /mnt/my\040files\011tab rw,nosuid shared:5 master:2 - fuse.rencfs ` +
  String.raw`rencfs\040data rw,user_id=0`,
  String.raw`37 22 0:32 / /back\134slash rw - tmpfs tmpfs rw`,
  "malformed line without separator",
  "40 22 0:33 / /mnt/my\\040files rw - tmpfs over rw",
  "",
].join("\n");

Deno.test("mountinfo: octal escapes undone, optional fields skipped, bad lines dropped", () => {
  const m = parseMountInfo(SAMPLE);
  assertEquals(m.map((e) => e.mountPoint), [
    "/",
    "/mnt/my files\ttab",
    "/back\\slash",
    "/mnt/my files",
  ]);
  assertEquals(m[1], {
    dev: "0:31",
    mountPoint: "/mnt/my files\ttab",
    fsType: "fuse.rencfs",
    source: "rencfs data",
  });
  assertEquals(m.map(isFuse), [false, true, false, false]);
});

Deno.test("mountinfo: the root of this namespace is found, and a plain folder is no mount", async () => {
  assertEquals((await findMount("/"))?.mountPoint, "/");
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(await findMount(dir), undefined);
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("unmount command: umount as root, fusermount3 for FUSE otherwise; lazy flags", () => {
  assertEquals(unmountCommand("/m", { root: true, fuse: true }), ["umount", "/m"]);
  assertEquals(unmountCommand("/m", { root: true, lazy: true }), ["umount", "-l", "/m"]);
  assertEquals(unmountCommand("/m", { root: false, fuse: true }), ["fusermount3", "-u", "/m"]);
  assertEquals(
    unmountCommand("/m", { root: false, fuse: true, lazy: true, fusermount: "/bin/fm" }),
    ["/bin/fm", "-u", "-z", "/m"],
  );
});

Deno.test({
  name: "a mount at a path with a space is found through mountinfo and unmounted",
  ignore: !isRoot(),
  async fn() {
    const base = await Deno.makeTempDir();
    const mnt = `${base}/with space`;
    await Deno.mkdir(mnt);
    try {
      const out = await new Deno.Command("mount", {
        args: ["-t", "tmpfs", "-o", "size=1m", "rencfs test", mnt],
        stderr: "piped",
      }).output();
      assertEquals(out.success, true, new TextDecoder().decode(out.stderr));
      const real = await Deno.realPath(mnt);
      const found = await findMount(real);
      assertEquals([found?.fsType, found?.source], ["tmpfs", "rencfs test"]);
      const r = await unmount(real);
      assertEquals(r, { command: ["umount", real] });
      assertEquals(await findMount(real), undefined);
    } finally {
      await new Deno.Command("umount", { args: ["-l", mnt], stderr: "null" }).output();
      await Deno.remove(base, { recursive: true });
    }
  },
});
