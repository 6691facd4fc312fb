/**
 * Open files through the mount: the serving process runs with its soft open-file limit raised to
 * the hard one, so the common soft limit of 1,024 does not cap the mount at about a thousand open
 * files (Deno's runtime raises it too: this guards the behaviour, not ffi/rlimits.ts alone, whose
 * warning the second test checks). Where the hard limit itself runs out, the caller gets ENFILE (every lookup used to fail
 * with EIO), the daemon says why once, and the mount works again once files close. Needs root,
 * /dev/fuse, libfuse3 and prlimit; skipped otherwise.
 */
import { assertEquals, withTempDir } from "./cli_helpers.ts";
import { ignore, Mounted } from "./cli_mount_helpers.ts";

const HARD = Number(new TextDecoder().decode(
  new Deno.Command("bash", { args: ["-c", "ulimit -Hn"], stdout: "piped" }).outputSync().stdout,
));
const hasPrlimit = (() => {
  try {
    return new Deno.Command("prlimit", { args: ["--version"], stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

// Opens `n` new files under `mnt` in a child with a high enough limit of its own, keeps them
// open, closes them; prints how many opened and the errno that stopped it (0: none), then the
// entry count of `mnt` once they are closed.
async function openMany(
  mnt: string,
  n: number,
): Promise<{ opened: number; errno: number; listed: number }> {
  const script = `
import os, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
fds, errno = [], 0
try:
    for i in range(${n}):
        fds.append(os.open('${mnt}/f%05d' % i, os.O_CREAT | os.O_RDWR, 0o644))
except OSError as e:
    errno = e.errno
for fd in fds: os.close(fd)
print(len(fds), errno, len(os.listdir('${mnt}')))
`;
  const r = await new Deno.Command("python3", { args: ["-c", script], stdout: "piped" }).output();
  const [opened, errno, listed] = new TextDecoder().decode(r.stdout).trim().split(" ").map(Number);
  return { opened, errno, listed };
}

// Mounts a new data dir with the daemon under `prlimit --nofile=<nofile>`, runs `body`, unmounts;
// returns the daemon's stderr.
async function withLimitedMount(nofile: string, body: (mnt: string) => Promise<void>) {
  let stderr = "";
  await withTempDir(async (tmp) => {
    const mnt = `${tmp}/mnt`;
    await Deno.mkdir(mnt);
    const m = new Mounted(["--init", "-m", mnt, "-d", `${tmp}/data`], undefined, [
      "prlimit",
      `--nofile=${nofile}`,
    ]);
    await m.ready(mnt);
    try {
      await body(mnt);
    } finally {
      m.child.kill("SIGTERM");
      const e = await m.exit();
      stderr = e.stderr;
      assertEquals(e.code, 0, stderr);
    }
  });
  return stderr;
}

Deno.test({
  name: "a soft open-file limit of 1,024 does not cap the files open through the mount",
  ignore: ignore || !hasPrlimit || !(HARD >= 3000),
  fn: async () => {
    await withLimitedMount("1024:", async (mnt) => {
      assertEquals(await openMany(mnt, 2500), { opened: 2500, errno: 0, listed: 2500 });
    });
  },
});

Deno.test({
  name: "out of descriptors the caller gets ENFILE, not EIO, and the mount works once files close",
  ignore: ignore || !hasPrlimit,
  fn: async () => {
    const stderr = await withLimitedMount("1024:1024", async (mnt) => {
      const r = await openMany(mnt, 1500);
      assertEquals(r.errno, 23, "ENFILE"); // not 5 (EIO)
      assertEquals(r.listed, r.opened);
      // The descriptors are back: a new file and a read work again.
      await Deno.writeTextFile(`${mnt}/after`, "still works");
      assertEquals(await Deno.readTextFile(`${mnt}/after`), "still works");
    });
    assertEquals((stderr.match(/no file descriptor left/g) ?? []).length, 1, stderr);
    assertEquals(/at most 1024 files can be open/.test(stderr), true, stderr);
  },
});
