/**
 * The rencfs command line, driven as a subprocess: every mount failure that is detected before
 * mounting (exit codes, messages, nothing created or changed). New data dirs use the cheap test
 * KDF cost (RENCFS_KDF_TEST_COST=1).
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  fuseAvailable,
  hashTree,
  isRoot,
  rencfs,
  rencfsCommandLine,
  rencfsEnv,
  withTempDir,
} from "./cli_helpers.ts";
import { assertMissing, initDataDir, PW_ENV, succeeds } from "./helpers/cli_fixtures.ts";
import { skipUnlessRequired } from "./helpers/required.ts";

/** Tests that open /dev/fuse (a skip fails instead where CI requires FUSE). */
const noFuse = skipUnlessRequired(
  "FUSE CLI tests",
  fuseAvailable() ? undefined : "/dev/fuse or libfuse3 is missing",
);

// ---------------------------------------------------------------- mount failures before mounting

Deno.test("mount: a missing mount point or one that is a file exits 5, nothing created", async () => {
  await withTempDir(async (tmp) => {
    await Deno.writeTextFile(`${tmp}/file`, "x");
    for (const mnt of [`${tmp}/nope`, `${tmp}/file`]) {
      const dir = `${tmp}/data`;
      const r = await rencfs(["mount", "--init", "-m", mnt, "-d", dir], { env: PW_ENV });
      assertEquals(r.code, 5, r.stderr);
      assertMatch(
        r.stderr,
        /^rencfs: error: mount point .* (does not exist|is not a directory)\n$/,
      );
      await assertMissing(dir);
      await assertMissing(`${tmp}/nope`);
    }
    // An existing empty data dir stays empty too.
    await Deno.mkdir(`${tmp}/empty`);
    const r = await rencfs(["mount", "--init", "-m", `${tmp}/nope`, "-d", `${tmp}/empty`], {
      env: PW_ENV,
    });
    assertEquals(r.code, 5, r.stderr);
    assertEquals([...Deno.readDirSync(`${tmp}/empty`)].length, 0);
  });
});

Deno.test("mount: a foreign data dir exits 4 and is left as it was", async () => {
  await withTempDir(async (tmp) => {
    const mnt = `${tmp}/mnt`;
    const dir = `${tmp}/data`;
    await Deno.mkdir(mnt);
    await Deno.mkdir(dir);
    await Deno.writeTextFile(`${dir}/photo.jpg`, "not ours");
    const before = await hashTree(dir);
    const r = await rencfs(["mount", "-m", mnt, "-d", dir], { env: PW_ENV });
    assertEquals(r.code, 4, r.stderr);
    assertMatch(r.stderr, /^rencfs: error: .*not a rencfs data dir/);
    assertEquals(await hashTree(dir), before);
  });
});

Deno.test("mount with another --cipher than the data dir's is refused (exit 4), nothing changed", async () => {
  await withTempDir(async (tmp) => {
    const mnt = `${tmp}/mnt`;
    const dir = `${tmp}/data`;
    await Deno.mkdir(mnt);
    const init = await rencfs(
      ["init", "--recovery-code-file", "-", "-d", dir, "-c", "aes-256-gcm"],
      { env: PW_ENV },
    );
    assertEquals(init.code, 0, init.stderr);
    const before = await hashTree(dir);
    const r = await rencfs(["mount", "-m", mnt, "-d", dir, "-c", "ChaCha20Poly1305"], {
      env: PW_ENV,
    });
    assertEquals(r.code, 4, r.stderr);
    assertMatch(r.stderr, /^rencfs: error: .*uses aes-256-gcm, not chacha20-poly1305/);
    assertEquals(await hashTree(dir), before);
  });
});

Deno.test("mount: a mount point inside the data dir (or the reverse) exits 5", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    await initDataDir(dir);
    await Deno.mkdir(`${dir}/inside`);
    const before = await hashTree(dir);
    const r = await rencfs(["mount", "-m", `${dir}/inside`, "-d", dir], { env: PW_ENV });
    assertEquals(r.code, 5, r.stderr);
    assertEquals(await hashTree(dir), before);
    await Deno.mkdir(`${tmp}/mnt`);
    const rev = await rencfs(["mount", "--init", "-m", `${tmp}/mnt`, "-d", `${tmp}/mnt/data`], {
      env: PW_ENV,
    });
    assertEquals(rev.code, 5, rev.stderr);
    await assertMissing(`${tmp}/mnt/data`);
  });
});

Deno.test("mount --read-only on an empty data dir exits 4 without creating it", async () => {
  await withTempDir(async (tmp) => {
    await Deno.mkdir(`${tmp}/mnt`);
    const r = await rencfs(["mount", "-r", "-m", `${tmp}/mnt`, "-d", `${tmp}/data`], {
      env: PW_ENV,
    });
    assertEquals(r.code, 4, r.stderr);
    await assertMissing(`${tmp}/data`);
  });
});

Deno.test({
  name: "mount: an already mounted mount point exits 5 (mountinfo is checked first)",
  ignore: !isRoot(),
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      await Deno.mkdir(mnt);
      const m = await new Deno.Command("mount", { args: ["-t", "tmpfs", "rencfs-test", mnt] })
        .output();
      assert(m.success, "mount tmpfs");
      try {
        const r = await rencfs(["mount", "--init", "-m", mnt, "-d", `${tmp}/data`], {
          env: PW_ENV,
        });
        assertEquals(r.code, 5, r.stderr);
        assertMatch(r.stderr, /already mounted \(tmpfs/);
        await assertMissing(`${tmp}/data`);
      } finally {
        await new Deno.Command("umount", { args: [mnt] }).output();
      }
    });
  },
});

Deno.test({
  name: "mount without /dev/fuse exits 6 with an install hint, nothing created",
  ignore: !isRoot() || !(await succeeds("unshare", ["-m", "true"])),
  fn: async () => {
    await withTempDir(async (tmp) => {
      await Deno.mkdir(`${tmp}/mnt`);
      // A private mount namespace whose /dev lacks fuse.
      const hideFuse = 'mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 && exec "$@"';
      const cmd = rencfsCommandLine(["mount", "--init", "-m", `${tmp}/mnt`, "-d", `${tmp}/data`]);
      const out = await new Deno.Command("unshare", {
        args: ["-m", "sh", "-c", hideFuse, "sh", ...cmd],
        env: rencfsEnv(PW_ENV),
        clearEnv: true,
        stdin: "null",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assertEquals(out.code, 6, stderr);
      assertMatch(
        stderr,
        /^rencfs: error: FUSE is unavailable: .*apt-get install fuse3 libfuse3-3/,
      );
      await assertMissing(`${tmp}/data`);
    });
  },
});

Deno.test({
  name: "mount with a wrong password exits 3 and leaves the data dir byte-identical",
  ignore: noFuse,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const dir = `${tmp}/data`;
      await initDataDir(dir);
      await Deno.mkdir(`${tmp}/mnt`);
      const before = await hashTree(dir);
      const r = await rencfs(["mount", "-m", `${tmp}/mnt`, "-d", dir], {
        env: { RENCFS_PASSWORD: "wrong" },
      });
      assertEquals(r.code, 3, r.stderr);
      assertEquals(await hashTree(dir), before);
      assertNotEquals(r.stderr, "");
    });
  },
});
