/**
 * The rencfs command line, driven as a subprocess (`deno run -A cli.ts …`): help, usage errors,
 * init, passwd, password sources, and every mount failure that is detected before mounting.
 * New data dirs use the cheap test KDF cost (RENCFS_KDF_TEST_COST=1).
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
  rencfsOnTerminal,
  VERSION,
  withTempDir,
} from "./cli_helpers.ts";
import { skipUnlessRequired } from "./helpers/required.ts";

/** Tests that open /dev/fuse (a skip fails instead where CI requires FUSE). */
const noFuse = skipUnlessRequired(
  "FUSE CLI tests",
  fuseAvailable() ? undefined : "/dev/fuse or libfuse3 is missing",
);

const PW = "correct horse";
const PW_ENV = { RENCFS_PASSWORD: PW };

/** A fresh data dir created with `rencfs init` (password {@link PW}); returns its recovery code. */
async function initDataDir(dir: string): Promise<string> {
  const r = await rencfs(["init", "--recovery-code-file", "-", "-d", dir], { env: PW_ENV });
  assertEquals(r.code, 0, r.stderr);
  return r.stdout.trim();
}

// ---------------------------------------------------------------- help, version, usage

Deno.test("--help and -h print usage for rencfs and every command, exit 0", async () => {
  for (
    const [args, expect] of [
      [["--help"], "Usage: rencfs [--log-level LEVEL] <COMMAND>"],
      [["-h"], "Usage: rencfs [--log-level LEVEL] <COMMAND>"],
      [["help"], "Usage: rencfs [--log-level LEVEL] <COMMAND>"],
      [["mount", "--help"], "Usage: rencfs mount --mount-point MNT --data-dir DIR"],
      [["mount", "-m", "/x", "--bogus", "-h"], "Usage: rencfs mount"],
      [["help", "mount"], "Usage: rencfs mount"],
      [["init", "--help"], "Usage: rencfs init --data-dir DIR"],
      [["passwd", "--help"], "Usage: rencfs passwd --data-dir DIR"],
      [["--log-level", "DEBUG", "passwd", "-h"], "Usage: rencfs passwd"],
    ] as const
  ) {
    const r = await rencfs([...args]);
    assertEquals(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assert(r.stdout.includes(expect), `${args.join(" ")}: ${r.stdout}`);
    assertEquals(r.stderr, "");
  }
});

Deno.test("--version and -V print the version from deno.json", async () => {
  for (const flag of ["--version", "-V"]) {
    const r = await rencfs([flag]);
    assertEquals(r.code, 0);
    assertEquals(r.stdout, `rencfs ${VERSION}\n`);
  }
});

Deno.test("usage errors exit 2 with a one-line error and a hint", async () => {
  const cases: string[][] = [
    [],
    ["frobnicate"],
    ["--bogus"],
    ["mount", "--bogus", "-m", "/a", "-d", "/b"],
    ["mount", "-m", "/a"],
    ["mount", "-d", "/b"],
    ["mount", "-m", "/a", "-d", "/b", "--cipher", "rot13"],
    ["mount", "-m", "/a", "-d", "/b", "--read-only=yes"],
    ["mount", "-m"],
    ["init"],
    ["init", "-d", "/b", "extra"],
    ["init", "-d", "/b", "--background"],
    ["init", "-d", ""],
    ["init", "-d", "/b", "--password-file", "/f", "--extpass", "echo x"],
    ["passwd", "-d", "/b", "--cipher", "aes-256-gcm"],
    ["--log-level", "LOUD", "init", "-d", "/b"],
    ["init", "-d", "/b", "--log-level", "LOUD"],
    ["help", "frobnicate"],
    ["mount", "-m", "/a", "-d", "/b", "--idle", "2x"],
    ["mount", "-m", "/a", "-d", "/b", "--idle", "500ms"],
    ["mount", "-m", "/a", "-d", "/b", "--recovery-code-file", "-"],
    ["init", "-d", "/b", "--recovery-code-file", ""],
    ["info"],
    ["info", "-d", "/b", "--json=yes"],
    ["--log-file", "", "info", "-d", "/b"],
  ];
  for (const args of cases) {
    const r = await rencfs(args);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    if (args.length > 0) assertMatch(r.stderr, /^rencfs: error: .+\nFor more information, try/);
    assertEquals(r.stdout, "");
  }
});

// ---------------------------------------------------------------- init

Deno.test("init creates a data dir, prints the recovery code on stdout; a second init is refused", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    const r = await rencfs(["init", "--recovery-code-file", "-", "--data-dir", dir], {
      env: PW_ENV,
    });
    assertEquals(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assertEquals(lines.length, 1, "stdout is the recovery code alone");
    assert(lines[0].length >= 16, `recovery code: ${lines[0]}`);
    assertMatch(r.stderr, /warning: Store the recovery code/);
    assert(!r.stderr.includes(PW), "the password is never printed");

    const before = await hashTree(dir);
    const again = await rencfs(["init", "--recovery-code-file", "-", "-d", dir], { env: PW_ENV });
    assertEquals(again.code, 4, again.stderr);
    assertMatch(again.stderr, /^rencfs: error: .*already a rencfs data dir\n$/);
    assertEquals(await hashTree(dir), before);
  });
});

Deno.test("init accepts every cipher spelling, including the Rust rencfs ones", async () => {
  await withTempDir(async (tmp) => {
    for (
      const [i, c] of ["aes-256-gcm", "Aes256Gcm", "ChaCha20Poly1305", "XCHACHA20-POLY1305"]
        .entries()
    ) {
      const r = await rencfs(["init", "--recovery-code-file", "-", "-d", `${tmp}/d${i}`, "-c", c], {
        env: PW_ENV,
      });
      assertEquals(r.code, 0, `${c}: ${r.stderr}`);
    }
  });
});

Deno.test("init refuses a non-empty foreign dir and a file (exit 4), changing nothing", async () => {
  await withTempDir(async (tmp) => {
    const foreign = `${tmp}/foreign`;
    await Deno.mkdir(foreign);
    await Deno.writeTextFile(`${foreign}/notes.txt`, "mine");
    const before = await hashTree(foreign);
    const r = await rencfs(["init", "--recovery-code-file", "-", "-d", foreign], { env: PW_ENV });
    assertEquals(r.code, 4, r.stderr);
    assertMatch(r.stderr, /^rencfs: error: .*not a rencfs data dir/);
    assertEquals(await hashTree(foreign), before);

    await Deno.writeTextFile(`${tmp}/file`, "x");
    const f = await rencfs(["init", "--recovery-code-file", "-", "-d", `${tmp}/file`], {
      env: PW_ENV,
    });
    assertEquals(f.code, 4, f.stderr);
    assertMatch(f.stderr, /not a directory/);
  });
});

// ---------------------------------------------------------------- password sources

Deno.test("password sources: --password-file, --extpass, stdin line; precedence over the env", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    await Deno.writeTextFile(`${tmp}/pw`, "from file\nsecond line ignored\n");
    const init = await rencfs([
      "init",
      "--recovery-code-file",
      "-",
      "-d",
      dir,
      "--password-file",
      `${tmp}/pw`,
    ], {
      env: { RENCFS_PASSWORD: "env loses" },
    });
    assertEquals(init.code, 0, init.stderr);

    // --extpass: first stdout line of `sh -c CMD` is the old password; the new one from stdin.
    const viaExt = await rencfs(["passwd", "-d", dir, "--extpass", "printf 'from file\\nx\\n'"], {
      stdin: "from stdin\n",
    });
    assertEquals(viaExt.code, 0, viaExt.stderr);

    // Both from stdin, one line each (no terminal).
    const viaStdin = await rencfs(["passwd", "-d", dir], { stdin: "from stdin\r\nthird\n" });
    assertEquals(viaStdin.code, 0, viaStdin.stderr);
    const check = await rencfs(["passwd", "-d", dir], {
      env: { RENCFS_PASSWORD: "third", RENCFS_NEW_PASSWORD: "third" },
    });
    assertEquals(check.code, 0, check.stderr);
  });
});

Deno.test("password source failures exit 1 without creating anything", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    const cases: [string[], { env?: Record<string, string>; stdin?: string }, RegExp][] = [
      [["--extpass", "exit 7"], {}, /--extpass command failed with exit code 7/],
      [["--extpass", "true"], {}, /--extpass output is empty/],
      [["--password-file", `${tmp}/missing`], {}, /cannot read password file/],
      [[], {}, /no password given/],
      [[], { stdin: "\n" }, /empty/],
      [[], { env: { RENCFS_PASSWORD: "" } }, /RENCFS_PASSWORD is empty/],
    ];
    for (const [extra, opts, message] of cases) {
      const r = await rencfs(["init", "--recovery-code-file", "-", "-d", dir, ...extra], opts);
      assertEquals(r.code, 1, `${extra.join(" ")}: ${r.stderr}`);
      assertMatch(r.stderr, message);
      await assertMissing(dir);
    }
  });
});

Deno.test({
  name: "terminal prompt: asked twice for a new password, nothing echoed",
  ignore: !(await succeeds("script", ["--version"])),
  fn: async () => {
    await withTempDir(async (tmp) => {
      const dir = `${tmp}/data`;
      const r = await rencfsOnTerminal(["init", "-d", dir], [
        ["Password: ", "s3cret-typed\r"],
        ["Repeat password: ", "s3cret-typed\r"],
      ]);
      assertEquals(r.code, 0, r.output);
      assert(!r.output.includes("s3cret-typed"), `echoed: ${r.output}`);
      const check = await rencfs(["passwd", "-d", dir], {
        env: { RENCFS_PASSWORD: "s3cret-typed", RENCFS_NEW_PASSWORD: "n" },
      });
      assertEquals(check.code, 0, check.stderr);

      const mismatch = await rencfsOnTerminal(["init", "-d", `${tmp}/other`], [
        ["Password: ", "one\r"],
        ["Repeat password: ", "two\r"],
      ]);
      assertEquals(mismatch.code, 1, mismatch.output);
      assertMatch(mismatch.output, /passwords do not match/);
      await assertMissing(`${tmp}/other`);
    });
  },
});

// ---------------------------------------------------------------- passwd

Deno.test("passwd with a wrong password exits 3 and leaves the data dir byte-identical", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    await initDataDir(dir);
    const before = await hashTree(dir);
    const r = await rencfs(["passwd", "-d", dir], {
      env: { RENCFS_PASSWORD: "wrong", RENCFS_NEW_PASSWORD: "new" },
    });
    assertEquals(r.code, 3, r.stderr);
    assertMatch(r.stderr, /^rencfs: error: .*(wrong|incorrect).*\n$/i);
    assertEquals(await hashTree(dir), before);
  });
});

Deno.test("passwd changes the password: the old one fails (3), the new one works", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    await initDataDir(dir);
    const r = await rencfs(["passwd", "--data-dir", dir], {
      env: { RENCFS_PASSWORD: PW, RENCFS_NEW_PASSWORD: "new pw" },
    });
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stderr, /password changed/);

    const before = await hashTree(dir);
    const old = await rencfs(["passwd", "-d", dir], {
      env: { RENCFS_PASSWORD: PW, RENCFS_NEW_PASSWORD: "x" },
    });
    assertEquals(old.code, 3, old.stderr);
    assertEquals(await hashTree(dir), before);

    const fresh = await rencfs(["passwd", "-d", dir], {
      env: { RENCFS_PASSWORD: "new pw", RENCFS_NEW_PASSWORD: "newer" },
    });
    assertEquals(fresh.code, 0, fresh.stderr);
  });
});

Deno.test("passwd --recovery-code: the right code resets the password, a wrong one exits 3", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    const code = await initDataDir(dir);
    const before = await hashTree(dir);
    const wrong = await rencfs(["passwd", "-d", dir, "--recovery-code"], {
      env: { RENCFS_RECOVERY_CODE: mangle(code), RENCFS_NEW_PASSWORD: "x" },
    });
    assertEquals(wrong.code, 3, wrong.stderr);
    assertEquals(await hashTree(dir), before);

    const ok = await rencfs(["passwd", "-d", dir, "--recovery-code"], {
      env: { RENCFS_RECOVERY_CODE: code, RENCFS_NEW_PASSWORD: "after reset" },
    });
    assertEquals(ok.code, 0, ok.stderr);
    const check = await rencfs(["passwd", "-d", dir], {
      env: { RENCFS_PASSWORD: "after reset", RENCFS_NEW_PASSWORD: "x" },
    });
    assertEquals(check.code, 0, check.stderr);
  });
});

Deno.test("passwd on a missing, empty or foreign dir exits 4", async () => {
  await withTempDir(async (tmp) => {
    await Deno.mkdir(`${tmp}/empty`);
    await Deno.mkdir(`${tmp}/foreign`);
    await Deno.writeTextFile(`${tmp}/foreign/x`, "x");
    for (const d of ["missing", "empty", "foreign"]) {
      const r = await rencfs(["passwd", "-d", `${tmp}/${d}`], {
        env: { RENCFS_PASSWORD: PW, RENCFS_NEW_PASSWORD: "x" },
      });
      assertEquals(r.code, 4, `${d}: ${r.stderr}`);
    }
    await assertMissing(`${tmp}/missing`);
    assertEquals([...Deno.readDirSync(`${tmp}/empty`)].length, 0);
  });
});

Deno.test("a damaged key file (and backup) exits 4 before any password is asked, changing nothing", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    await initDataDir(dir);
    // Its backup would be used otherwise (cli_keyfile_backup_test.ts).
    for (const keyFile of [`${dir}/rencfs.conf`, `${dir}/rencfs.conf.bak`]) {
      const text = await Deno.readTextFile(keyFile);
      await Deno.writeTextFile(keyFile, text.slice(0, text.length / 2));
    }
    await Deno.mkdir(`${tmp}/mnt`);
    const before = await hashTree(dir);
    // No password source at all: reaching the password step would exit 1 instead.
    for (
      const args of [["passwd", "-d", dir], ["mount", "-m", `${tmp}/mnt`, "-d", dir]]
    ) {
      const r = await rencfs(args);
      assertEquals(r.code, 4, `${args[0]}: ${r.stderr}`);
      assertMatch(r.stderr, /^rencfs: error: data dir .*damaged/);
    }
    assertEquals(await hashTree(dir), before);
  });
});

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

// ---------------------------------------------------------------- helpers local to this file

async function assertMissing(path: string): Promise<void> {
  try {
    await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  throw new Error(`${path} exists but should not`);
}

/** The recovery code with one character changed (still well-formed where possible). */
function mangle(code: string): string {
  const i = code.search(/[A-Za-z0-9]/);
  const c = code[i];
  const swap = c === "A" ? "B" : c === "a" ? "b" : c === "2" ? "3" : /[0-9]/.test(c) ? "2" : "A";
  return code.slice(0, i) + (c === c.toLowerCase() ? swap.toLowerCase() : swap) + code.slice(i + 1);
}

async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}
