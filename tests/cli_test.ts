/**
 * The rencfs command line, driven as a subprocess (`deno run -A cli.ts …`): help, usage errors,
 * init, password sources and passwd (mount failures detected before mounting:
 * cli_mount_refusals_test.ts).
 * New data dirs use the cheap test KDF cost (RENCFS_KDF_TEST_COST=1).
 */
import {
  assert,
  assertEquals,
  assertMatch,
  hashTree,
  rencfs,
  rencfsOnTerminal,
  VERSION,
  withTempDir,
} from "./cli_helpers.ts";
import { assertMissing, initDataDir, PW, PW_ENV, succeeds } from "./helpers/cli_fixtures.ts";

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

// ---------------------------------------------------------------- helpers local to this file

/** The recovery code with one character changed (still well-formed where possible). */
function mangle(code: string): string {
  const i = code.search(/[A-Za-z0-9]/);
  const c = code[i];
  const swap = c === "A" ? "B" : c === "a" ? "b" : c === "2" ? "3" : /[0-9]/.test(c) ? "2" : "A";
  return code.slice(0, i) + (c === c.toLowerCase() ? swap.toLowerCase() : swap) + code.slice(i + 1);
}
