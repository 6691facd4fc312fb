/**
 * Mounting through mount(8) and /etc/fstab: packaging/mount.rencfs run directly, as
 * /sbin/mount.fuse.rencfs for a `fuse.rencfs` line of an fstab file, and through mount.fuse3,
 * which runs `rencfs DATADIR MNT -o OPTIONS` (the launcher hands that form to the helper).
 * Needs root, /dev/fuse and libfuse3; skipped otherwise.
 */
import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertMatch, rencfs, withTempDir } from "./cli_helpers.ts";
import { ignore, isLiveFuseMount, processesMentioning, waitFor } from "./cli_mount_helpers.ts";
import { findMount } from "../ffi/mounts.ts";

const HELPER = fileURLToPath(new URL("../packaging/mount.rencfs", import.meta.url));
const LAUNCHER = fileURLToPath(new URL("../rencfs", import.meta.url));
const PASSWORD = "fstab test password";

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[]): Promise<Out> {
  const env = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("RENCFS_")),
  );
  const out = await new Deno.Command(cmd, {
    args,
    env: { ...env, RENCFS_KDF_TEST_COST: "1" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** A data dir holding one file, with its password in a 0600 file; `fn` gets the paths. */
async function withDataDir(
  fn: (p: { dataDir: string; mnt: string; passFile: string; tmp: string }) => Promise<void>,
): Promise<void> {
  await withTempDir(async (tmp) => {
    const p = { dataDir: `${tmp}/data`, mnt: `${tmp}/mnt`, passFile: `${tmp}/pass`, tmp };
    await Deno.mkdir(p.mnt);
    await Deno.writeTextFile(p.passFile, `${PASSWORD}\n`, { mode: 0o600 });
    const init = await rencfs([
      "init",
      "--data-dir",
      p.dataDir,
      "--password-file",
      p.passFile,
      "--recovery-code-file",
      "-",
    ]);
    assertEquals(init.code, 0, init.stderr);
    await fn(p);
  });
}

/** Unmounts with umount(8), as `mount`'s counterpart, and waits for the daemon to end. */
async function umountAndWait(mnt: string, dataDir: string): Promise<void> {
  const out = await run("umount", [mnt]);
  assertEquals(out.code, 0, out.stderr);
  await waitFor(
    "the daemon to exit",
    async () => (await processesMentioning(dataDir)).length === 0,
  );
  assertEquals(await findMount(mnt), undefined);
}

async function writeAndRead(mnt: string): Promise<void> {
  const out = await run("sh", ["-c", `echo through fstab > '${mnt}/f' && cat '${mnt}/f'`]);
  assertEquals(out, { code: 0, stdout: "through fstab\n", stderr: "" });
}

/** Runs `fn` with `link` pointing at `target`, unless something else is already there. */
async function withSymlink(
  target: string,
  link: string,
  fn: () => Promise<void>,
): Promise<void> {
  try {
    await Deno.lstat(link);
    console.warn(`skipped: ${link} already exists (not touching an installed one)`);
    return;
  } catch {
    // free
  }
  await Deno.symlink(target, link);
  try {
    await fn();
  } finally {
    await Deno.remove(link);
  }
}

Deno.test({
  name: "mount.rencfs DATADIR MNT -o passfile=… mounts in the background, fstab options ignored",
  ignore,
  async fn() {
    await withDataDir(async ({ dataDir, mnt, passFile }) => {
      const out = await run(HELPER, [
        dataDir,
        mnt,
        "-o",
        `rw,passfile=${passFile},nofail,_netdev,noauto,user,x-systemd.automount,idle=10min,` +
        `memory_limit=200M`,
      ]);
      assertEquals(out.code, 0, out.stderr);
      assert(await isLiveFuseMount(mnt));
      // memory_limit= reaches the daemon as --memory-limit.
      const daemons = await run("pgrep", ["-af", "--", `-d ${dataDir} `]);
      assert(daemons.stdout.includes(`--memory-limit ${200 << 20} `), daemons.stdout);
      await writeAndRead(mnt);
      await umountAndWait(mnt, dataDir);
    });
  },
});

Deno.test({
  name: "a fuse.rencfs line of an fstab file mounts through /sbin/mount.fuse.rencfs, ro honoured",
  ignore,
  async fn() {
    await withDataDir(async ({ dataDir, mnt, passFile, tmp }) => {
      // A file inside first, so that the read-only mount has something to read.
      const first = await run(HELPER, [dataDir, mnt, "-o", `passfile=${passFile}`]);
      assertEquals(first.code, 0, first.stderr);
      await writeAndRead(mnt);
      await umountAndWait(mnt, dataDir);

      const fstab = `${tmp}/fstab`;
      await Deno.writeTextFile(
        fstab,
        `# test\n${dataDir} ${mnt} fuse.rencfs passfile=${passFile},ro,nofail,noauto 0 0\n`,
      );
      await withSymlink(HELPER, "/sbin/mount.fuse.rencfs", async () => {
        const out = await run("mount", ["--fstab", fstab, mnt]);
        assertEquals(out.code, 0, out.stderr);
        const entry = await findMount(mnt);
        assertEquals(entry?.fsType, "fuse.rencfs");
        assert(await isLiveFuseMount(mnt));
        const cat = await run("cat", [`${mnt}/f`]);
        assertEquals(cat.stdout, "through fstab\n");
        const write = await run("sh", ["-c", `echo x > '${mnt}/g'`]);
        assertMatch(write.stderr, /Read-only file system/);
        await umountAndWait(mnt, dataDir);
      });
    });
  },
});

Deno.test({
  name: "mount -t fuse.rencfs goes through mount.fuse3 to `rencfs DATADIR MNT -o …` on PATH",
  ignore,
  async fn() {
    await withDataDir(async ({ dataDir, mnt, passFile }) => {
      // mount.fuse3 runs `rencfs` with a fixed PATH: the launcher must be in /usr/local/bin.
      await withSymlink(LAUNCHER, "/usr/local/bin/rencfs", async () => {
        try {
          await Deno.lstat("/sbin/mount.fuse.rencfs");
          console.warn("skipped: /sbin/mount.fuse.rencfs exists, mount.fuse3 would not be used");
          return;
        } catch {
          // mount(8) falls back to mount.fuse (mount.fuse3)
        }
        const out = await run("mount", [
          "-t",
          "fuse.rencfs",
          "-o",
          `passfile=${passFile},nofail`,
          dataDir,
          mnt,
        ]);
        assertEquals(out.code, 0, out.stderr);
        assert(await isLiveFuseMount(mnt));
        await writeAndRead(mnt);
        await umountAndWait(mnt, dataDir);
      });
    });
  },
});

Deno.test({
  name: "mount.rencfs refuses an unknown option (a typo) unless sloppy, and names it",
  ignore,
  async fn() {
    await withDataDir(async ({ dataDir, mnt, passFile }) => {
      const typo = await run(HELPER, [dataDir, mnt, "-o", `pasfile=${passFile}`]);
      assertEquals(typo.code, 1);
      assertMatch(typo.stderr, /unknown option 'pasfile=/);
      assertEquals(await findMount(mnt), undefined);

      const sloppy = await run(HELPER, [dataDir, mnt, "-s", "-o", `passfile=${passFile},frob`]);
      assertEquals(sloppy.code, 0, sloppy.stderr);
      assertMatch(sloppy.stderr, /ignoring unknown option 'frob'/);
      assert(await isLiveFuseMount(mnt));
      await umountAndWait(mnt, dataDir);
    });
  },
});

Deno.test({
  name: "mount.rencfs with a wrong password file fails with mount(8)'s code 32, nothing mounted",
  ignore,
  async fn() {
    await withDataDir(async ({ dataDir, mnt, tmp }) => {
      await Deno.writeTextFile(`${tmp}/wrong`, "not the password\n", { mode: 0o600 });
      const out = await run(HELPER, [dataDir, mnt, "-o", `passfile=${tmp}/wrong`]);
      assertEquals(out.code, 32);
      assertMatch(out.stderr, /password/i);
      assertEquals(await findMount(mnt), undefined);
    });
  },
});
