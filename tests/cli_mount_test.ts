/**
 * `rencfs mount` for real: foreground mount and clean unmount on SIGTERM or from outside,
 * `--background` and `--read-only` (signals with busy mounts, dead mounts, `-u` and
 * `--nonempty`: cli_mount_safety_test.ts). Needs root, /dev/fuse and libfuse3; skipped
 * otherwise.
 */
import { assert, assertEquals, assertMatch, hashTree, rencfs, withTempDir } from "./cli_helpers.ts";
import {
  fusermountU,
  ignore,
  isFuseMount,
  Mounted,
  processesMentioning,
  PW,
  waitFor,
} from "./cli_mount_helpers.ts";

Deno.test({
  name: "mount creates a new data dir, serves files, unmounts cleanly on SIGTERM, and remounts",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      await Deno.mkdir(mnt);
      const m = new Mounted(["--init", "-m", mnt, "-d", dir]);
      await m.ready(mnt);
      await Deno.writeTextFile(`${mnt}/hello.txt`, "hello, world");
      await Deno.mkdir(`${mnt}/sub`);
      m.child.kill("SIGTERM");
      const r = await m.exit();
      assertEquals(r.code, 0, r.stderr);
      // No terminal: the recovery code is not shown at all, and the warning says so.
      assertMatch(r.stderr, /recovery code was not shown: there is no terminal/);
      assert(!(await isFuseMount(mnt)), "unmounted");

      const again = new Mounted(["-m", mnt, "-d", dir]);
      await again.ready(mnt);
      assertEquals(await Deno.readTextFile(`${mnt}/hello.txt`), "hello, world");
      assert((await Deno.stat(`${mnt}/sub`)).isDirectory);
      again.child.kill("SIGINT");
      const r2 = await again.exit();
      assertEquals(r2.code, 0, r2.stderr);
      assert(!/recovery code/i.test(r2.stderr), "the recovery code is mentioned only at creation");
    });
  },
});

Deno.test({
  name: "mount exits 0 when unmounted from outside (fusermount3 -u), data written out",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      await Deno.mkdir(mnt);
      assertEquals(
        (await rencfs(["init", "--recovery-code-file", "-", "-d", dir], {
          env: { RENCFS_PASSWORD: PW },
        })).code,
        0,
      );
      const m = new Mounted(["-m", mnt, "-d", dir]);
      await m.ready(mnt);
      await Deno.writeFile(`${mnt}/blob`, new Uint8Array(300_000).fill(7));
      await fusermountU(mnt);
      const r = await m.exit();
      assertEquals(r.code, 0, r.stderr);

      const ro = new Mounted(["-r", "-m", mnt, "-d", dir]);
      await ro.ready(mnt);
      assertEquals((await Deno.readFile(`${mnt}/blob`)).length, 300_000);
      let refused = false;
      try {
        await Deno.writeTextFile(`${mnt}/new`, "x");
      } catch {
        refused = true;
      }
      assert(refused, "a read-only mount refuses writes");
      await fusermountU(mnt);
      assertEquals((await ro.exit()).code, 0);
    });
  },
});

Deno.test({
  name: "mount --background: returns once mounted, recovery code to its file, hides the password",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      await Deno.mkdir(mnt);

      // A new data dir: created before detaching; its recovery code goes only to the file.
      const codeFile = `${tmp}/code`;
      const r = await rencfs([
        "mount",
        "--background",
        "--init",
        "--recovery-code-file",
        codeFile,
        "-m",
        mnt,
        "-d",
        dir,
      ], { env: { RENCFS_PASSWORD: PW } });
      assertEquals(r.code, 0, r.stderr);
      const code = (await Deno.readTextFile(codeFile)).trim();
      assertMatch(code, /^\S{20,}/);
      assertEquals((await Deno.stat(codeFile)).mode! & 0o777, 0o600);
      assert(!r.stderr.includes(code), "the code is not on stderr");
      assertMatch(r.stderr, new RegExp(`recovery code is in ${codeFile}`));
      assert(!r.stderr.includes("\0"), "the readiness marker is not shown");
      assert(await isFuseMount(mnt), "mounted when the parent returns");
      const pids = await processesMentioning(mnt);
      assertEquals(pids.length, 1, `daemon processes: ${pids}`);
      const cmdline = await Deno.readTextFile(`/proc/${pids[0]}/cmdline`);
      const environ = await Deno.readTextFile(`/proc/${pids[0]}/environ`);
      assert(!cmdline.includes(PW) && !environ.includes(PW), "password not in argv or env");

      await Deno.writeTextFile(`${mnt}/f`, "background");
      await fusermountU(mnt);
      await waitFor("daemon exit", async () => (await processesMentioning(mnt)).length === 0);

      // A wrong password: the child's exit code (3) comes back, nothing mounted or changed.
      const before = await hashTree(dir);
      const wrong = await rencfs(["mount", "--background", "-m", mnt, "-d", dir], {
        env: { RENCFS_PASSWORD: "wrong" },
      });
      assertEquals(wrong.code, 3, wrong.stderr);
      assert(!(await isFuseMount(mnt)));
      assertEquals(await hashTree(dir), before);
    });
  },
});
