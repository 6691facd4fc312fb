/**
 * A first run as a new user makes it: no vault is created by accident (a typo in --data-dir is
 * refused, not mounted as a new, empty data dir), the recovery code goes to a terminal or a file
 * the user named and nowhere else, every check that can fail is done before the password is
 * asked (data dir, its lock, /dev/fuse opened for real, mount point), and `rencfs info` tells
 * what a data dir is without its password. Tests that mount need root and FUSE.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  fuseAvailable,
  hashTree,
  isRoot,
  rencfs,
  rencfsCommandLine,
  rencfsEnv,
  rencfsOnTerminal,
  withTempDir,
} from "./cli_helpers.ts";
import {
  fusermountU,
  ignore as noMount,
  isFuseMount,
  processesMentioning,
  waitFor,
} from "./cli_mount_helpers.ts";
import { skipUnlessRequired } from "./helpers/required.ts";

/** Tests that open /dev/fuse (a skip fails instead where CI requires FUSE). */
const noFuse = skipUnlessRequired(
  "FUSE CLI tests",
  fuseAvailable() ? undefined : "/dev/fuse or libfuse3 is missing",
);

const PW = "first run password";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

/** Holds `dir`'s flock (as a mount would) with flock(1) until the returned function is called. */
async function holdLock(dir: string, shared: boolean): Promise<() => Promise<void>> {
  const child = new Deno.Command("flock", {
    args: [shared ? "-s" : "-x", dir, "sh", "-c", "echo locked; read x"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  assertEquals(new TextDecoder().decode(value).trim(), "locked");
  return async () => {
    await child.stdin.close();
    reader.releaseLock();
    await child.stdout.cancel();
    await child.status;
  };
}

Deno.test("mount of a missing or empty data dir without --init exits 4, names the path, creates nothing", async () => {
  await withTempDir(async (tmp) => {
    await Deno.mkdir(`${tmp}/mnt`);
    await Deno.mkdir(`${tmp}/empty`);
    for (const [dir, what] of [[`${tmp}/typo`, "does not exist"], [`${tmp}/empty`, "is empty"]]) {
      // Every non-interactive password source: none of them may make a vault on its own.
      for (
        const [extra, env] of [
          [[], { RENCFS_PASSWORD: PW }],
          [["--extpass", `echo '${PW}'`], {}],
        ] as const
      ) {
        const r = await rencfs(["mount", ...extra, "-m", `${tmp}/mnt`, "-d", dir], { env });
        assertEquals(r.code, 4, r.stderr);
        assertMatch(r.stderr, new RegExp(`^rencfs: error: data dir ${dir} ${what}: `));
        assertMatch(r.stderr, new RegExp(`rencfs init --data-dir ${dir} .*or mount with --init`));
      }
    }
    assert(!(await exists(`${tmp}/typo`)), "nothing created");
    assertEquals([...Deno.readDirSync(`${tmp}/empty`)], []);
  });
});

Deno.test("init without a terminal needs --recovery-code-file: exit 2 first; the file is 0600, never overwritten", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    // stdout is a pipe here: no code on it unless asked for, and no password read.
    const refused = await rencfs(["init", "-d", dir], { stdin: `${PW}\n` });
    assertEquals(refused.code, 2, refused.stderr);
    assertMatch(refused.stderr, /stdout is not a terminal: .*--recovery-code-file FILE/);
    assertEquals(refused.stdout, "");
    assert(!(await exists(dir)), "nothing created");

    const codeFile = `${tmp}/code.txt`;
    const r = await rencfs(["init", "-d", dir, "--recovery-code-file", codeFile], {
      env: { RENCFS_PASSWORD: PW },
    });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stdout, "");
    const code = (await Deno.readTextFile(codeFile)).trim();
    assert(code.length >= 20 && !r.stderr.includes(code), "the code is in the file only");
    assertEquals((await Deno.stat(codeFile)).mode! & 0o777, 0o600);
    // The code in the file is the real one.
    const reset = await rencfs(["passwd", "-d", dir, "--recovery-code"], {
      env: { RENCFS_RECOVERY_CODE: code, RENCFS_NEW_PASSWORD: "new" },
    });
    assertEquals(reset.code, 0, reset.stderr);

    // An existing file is refused before anything is created.
    const other = `${tmp}/other`;
    const again = await rencfs(["init", "-d", other, "--recovery-code-file", codeFile], {
      env: { RENCFS_PASSWORD: PW },
    });
    assertEquals(again.code, 2, again.stderr);
    assertMatch(again.stderr, /exists; it is never overwritten/);
    assert(!(await exists(other)));
    assertEquals((await Deno.readTextFile(codeFile)).trim(), code);
  });
});

Deno.test("a data dir in use is refused (exit 4) before the password and before the mount point", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    const init = await rencfs(["init", "-d", dir, "--recovery-code-file", `${tmp}/code`], {
      env: { RENCFS_PASSWORD: PW },
    });
    assertEquals(init.code, 0, init.stderr);
    const release = await holdLock(dir, false);
    try {
      // No password source at all: asking for one would fail with exit 1 instead. The mount
      // point is missing too: the data dir is checked first.
      const r = await rencfs(["mount", "-m", `${tmp}/nope`, "-d", dir]);
      assertEquals(r.code, 4, r.stderr);
      assertMatch(r.stderr, new RegExp(`data dir ${dir} is in use by another rencfs process`));
    } finally {
      await release();
    }
    // Free again: now the mount point is what fails (exit 5), still before any password.
    const r = await rencfs(["mount", "-m", `${tmp}/nope`, "-d", dir]);
    assertEquals(r.code, 5, r.stderr);
  });
});

Deno.test({
  name: "a /dev/fuse that exists but cannot be opened exits 6 before creating anything",
  ignore: !isRoot() || !(await succeeds("unshare", ["-m", "true"])) ||
    !(await succeeds("setpriv", ["--version"])),
  fn: async () => {
    await withTempDir(async (tmp) => {
      await Deno.mkdir(`${tmp}/mnt`);
      // A private /dev whose fuse node belongs to another user, mode 0600; rencfs runs as root
      // without the capabilities that bypass file permissions, like an ordinary user would.
      const script = "mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 && " +
        "mknod -m 600 /dev/fuse c 10 229 && chown 65534 /dev/fuse && " +
        'exec setpriv --bounding-set -dac_override,-dac_read_search "$@"';
      const cmd = rencfsCommandLine([
        "mount",
        "--init",
        "-m",
        `${tmp}/mnt`,
        "-d",
        `${tmp}/data`,
      ]);
      const out = await new Deno.Command("unshare", {
        args: ["-m", "sh", "-c", script, "sh", ...cmd],
        env: rencfsEnv({ RENCFS_PASSWORD: PW }),
        clearEnv: true,
        stdin: "null",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assertEquals(out.code, 6, stderr);
      assertMatch(
        stderr,
        /^rencfs: error: FUSE is unavailable: cannot open \/dev\/fuse for reading and writing: permission denied/,
      );
      assert(!/recovery code/i.test(stderr), stderr);
      assert(!(await exists(`${tmp}/data`)), "no data dir created");
    });
  },
});

Deno.test({
  name: "mount on a terminal asks 'create a new data dir at …? [y/N]': no by default; y creates it",
  ignore: noMount || !(await succeeds("script", ["--version"])),
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      await Deno.mkdir(mnt);
      const question = `rencfs: create a new data dir at ${dir}? [y/N] `;
      const no = await rencfsOnTerminal(["mount", "-m", mnt, "-d", dir], [[question, "\r"]]);
      assertEquals(no.code, 4, no.output);
      assertMatch(no.output, /no data dir created at .*; nothing mounted/);
      assert(!/Password/.test(no.output), "no password asked");
      assert(!(await exists(dir)));

      const yes = await rencfsOnTerminal(["mount", "--background", "-m", mnt, "-d", dir], [
        [question, "y\r"],
        ["Password: ", `${PW}\r`],
        ["Repeat password: ", `${PW}\r`],
      ]);
      try {
        assertEquals(yes.code, 0, yes.output);
        // On a terminal the code is shown there, once.
        assertMatch(yes.output, /Recovery code:\r?\n\r?\n {4}\S{20,}/);
        assert(await isFuseMount(mnt));
        await Deno.writeTextFile(`${mnt}/f`, "x");
      } finally {
        if (await isFuseMount(mnt)) await fusermountU(mnt);
        await waitFor("daemon exit", async () => (await processesMentioning(mnt)).length === 0);
      }
      assert(await exists(`${dir}/rencfs.conf`));
    });
  },
});

Deno.test({
  name: "first run on a terminal: one question creates the data dir and a missing mount point",
  ignore: noMount || !(await succeeds("script", ["--version"])),
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      const question = `rencfs: create a new data dir at ${dir} and the mount point ${mnt}? [y/N] `;
      const no = await rencfsOnTerminal(["mount", "-m", mnt, "-d", dir], [[question, "\r"]]);
      assertEquals(no.code, 4, no.output);
      assert(!(await exists(mnt)) && !(await exists(dir)), "nothing created on no");
      const yes = await rencfsOnTerminal(["mount", "--background", "-m", mnt, "-d", dir], [
        [question, "y\r"],
        ["Password: ", `${PW}\r`],
        ["Repeat password: ", `${PW}\r`],
      ]);
      try {
        assertEquals(yes.code, 0, yes.output);
        assert(await isFuseMount(mnt));
      } finally {
        if (await isFuseMount(mnt)) await fusermountU(mnt);
        await waitFor("daemon exit", async () => (await processesMentioning(mnt)).length === 0);
      }
      assertEquals((await Deno.stat(mnt)).mode! & 0o777, 0o700);
    });
  },
});

Deno.test({
  name: "mount --recovery-code-file: an existing file is refused before anything is created",
  ignore: noFuse,
  fn: async () => {
    await withTempDir(async (tmp) => {
      await Deno.mkdir(`${tmp}/mnt`);
      await Deno.writeTextFile(`${tmp}/code`, "keep me");
      const r = await rencfs([
        "mount",
        "--init",
        "--recovery-code-file",
        `${tmp}/code`,
        "-m",
        `${tmp}/mnt`,
        "-d",
        `${tmp}/data`,
      ], { env: { RENCFS_PASSWORD: PW } });
      assertEquals(r.code, 2, r.stderr);
      assertEquals(await Deno.readTextFile(`${tmp}/code`), "keep me");
      assert(!(await exists(`${tmp}/data`)));
    });
  },
});

Deno.test("info shows format, cipher, chunk size, KDF, created, backup and lock, without a password", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    const init = await rencfs(
      ["init", "-d", dir, "-c", "aes-256-gcm", "--recovery-code-file", `${tmp}/code`],
      { env: { RENCFS_PASSWORD: PW } },
    );
    assertEquals(init.code, 0, init.stderr);
    const before = await hashTree(dir);

    const text = await rencfs(["info", "-d", dir]);
    assertEquals(text.code, 0, text.stderr);
    for (
      const line of [
        /^format version: +3$/m,
        /^cipher: +aes-256-gcm$/m,
        /^chunk size: +64 KiB$/m,
        /^key derivation: +argon2id, memory 8 MiB, 1 pass, parallelism 1$/m,
        /^created: +\d{4}-\d\d-\d\dT/m,
        /^key backup: +rencfs.conf.bak, identical$/m,
        /^in use: +no$/m,
      ]
    ) assertMatch(text.stdout, line);

    const json = JSON.parse((await rencfs(["info", "-d", dir, "--json"])).stdout);
    assertEquals(json.cipher, "aes-256-gcm");
    assertEquals(json.kdf, {
      algorithm: "argon2id",
      memoryKiB: 8192,
      iterations: 1,
      parallelism: 1,
    });
    assertEquals([json.formatVersion, json.chunkSize, json.backup], [3, 65536, "identical"]);
    assertEquals(Date.parse(json.created) > 0, true);

    for (const [shared, state] of [[false, "read-write"], [true, "read-only"]] as const) {
      const release = await holdLock(dir, shared);
      try {
        const r = JSON.parse((await rencfs(["info", "-d", dir, "--json"])).stdout);
        assertEquals(r.inUse, state);
      } finally {
        await release();
      }
    }
    assertEquals(await hashTree(dir), before, "info changes nothing");
    await Deno.remove(`${dir}/rencfs.conf.bak`);
    assertMatch((await rencfs(["info", "-d", dir])).stdout, /^key backup: +none$/m);

    await Deno.mkdir(`${tmp}/foreign`);
    await Deno.writeTextFile(`${tmp}/foreign/x`, "x");
    for (const d of [`${tmp}/foreign`, `${tmp}/missing`]) {
      const r = await rencfs(["info", "-d", d]);
      assertEquals(r.code, 4, r.stderr);
    }
  });
});
