/**
 * `rencfs mount` for real: foreground mount and clean unmount on SIGTERM or from outside,
 * `--background`, `--read-only`, and `--umount-on-start` after `kill -9`. Needs root, /dev/fuse,
 * libfuse3, and the FUSE adapter (src/fuse/mount.ts); skipped otherwise.
 */
import { findMount, isFuse } from "../src/cli/mountinfo.ts";
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
  withTempDir,
} from "./cli_helpers.ts";

const PW = "mount test password";

function exists(relative: string): boolean {
  try {
    Deno.statSync(new URL(relative, import.meta.url));
    return true;
  } catch {
    return false;
  }
}

const ignore = !isRoot() || !fuseAvailable() || !exists("../src/fuse/mount.ts");

/** Polls `check` every 50 ms until it is true; fails after `ms`. */
async function waitFor(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function isFuseMount(mnt: string): Promise<boolean> {
  const entry = await findMount(mnt);
  return entry !== undefined && isFuse(entry);
}

/** A FUSE mount that answers (a dead one fails with ENOTCONN). */
async function isLiveFuseMount(mnt: string): Promise<boolean> {
  if (!(await isFuseMount(mnt))) return false;
  try {
    for await (const _ of Deno.readDir(mnt)) break;
    return true;
  } catch {
    return false;
  }
}

/** A foreground `rencfs mount` running as a child process. */
class Mounted {
  readonly child: Deno.ChildProcess;
  readonly #stderr: Promise<string>;
  #seen = "";

  constructor(args: string[], env: Record<string, string> = { RENCFS_PASSWORD: PW }) {
    // INFO level: the daemon's own "mounted … at …" line is the readiness signal.
    const [cmd, ...rest] = rencfsCommandLine(["--log-level", "info", "mount", ...args]);
    this.child = new Deno.Command(cmd, {
      args: rest,
      env: rencfsEnv(env),
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = this.child.stderr;
    this.#stderr = (async () => {
      const decoder = new TextDecoder();
      for await (const bytes of stderr) {
        this.#seen += decoder.decode(bytes, { stream: true });
      }
      return this.#seen;
    })();
  }

  /**
   * Waits until the daemon says it has mounted (its signal handlers are in place by then) and
   * the mount answers. Polling the mount table alone races `--umount-on-start`: between reading
   * the table (still the dead mount) and listing, the dead mount can go and the listing then
   * succeeds on the bare directory, before the new daemon listens for signals.
   */
  async ready(mnt: string): Promise<void> {
    let exited = false;
    this.child.status.then(() => exited = true);
    await waitFor(`${mnt} mounted`, async () => {
      if (exited) throw new Error(`rencfs exited before mounting: ${await this.#stderr}`);
      return / mounted .* at /.test(this.#seen) && await isLiveFuseMount(mnt);
    });
  }

  /** Waits for the process to end; returns its exit code and stderr. */
  async exit(): Promise<{ code: number; stderr: string }> {
    const status = await this.child.status;
    return { code: status.code, stderr: await this.#stderr };
  }
}

async function fusermountU(mnt: string): Promise<void> {
  const out = await new Deno.Command("fusermount3", { args: ["-u", mnt], stderr: "piped" })
    .output();
  assert(out.success, new TextDecoder().decode(out.stderr));
}

/** Processes whose command line mentions `needle` and `program` (as `pgrep -f` would see). */
async function processesMentioning(needle: string, program = "cli.ts"): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (cmdline.includes(needle) && cmdline.includes(program)) pids.push(Number(e.name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

Deno.test({
  name: "mount creates a new data dir, serves files, unmounts cleanly on SIGTERM, and remounts",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      await Deno.mkdir(mnt);
      const m = new Mounted(["-m", mnt, "-d", dir]);
      await m.ready(mnt);
      await Deno.writeTextFile(`${mnt}/hello.txt`, "hello, world");
      await Deno.mkdir(`${mnt}/sub`);
      m.child.kill("SIGTERM");
      const r = await m.exit();
      assertEquals(r.code, 0, r.stderr);
      assertMatch(r.stderr, /Recovery code/);
      assert(!(await isFuseMount(mnt)), "unmounted");

      const again = new Mounted(["-m", mnt, "-d", dir]);
      await again.ready(mnt);
      assertEquals(await Deno.readTextFile(`${mnt}/hello.txt`), "hello, world");
      assert((await Deno.stat(`${mnt}/sub`)).isDirectory);
      again.child.kill("SIGINT");
      const r2 = await again.exit();
      assertEquals(r2.code, 0, r2.stderr);
      assert(!/Recovery code/.test(r2.stderr), "the recovery code is shown only at creation");
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
      assertEquals((await rencfs(["init", "-d", dir], { env: { RENCFS_PASSWORD: PW } })).code, 0);
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
  name: "mount --background: returns once mounted, relays the recovery code, hides the password",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      await Deno.mkdir(mnt);

      // A new data dir: the child creates it; its recovery code reaches the parent's stderr.
      const r = await rencfs(["mount", "--background", "-m", mnt, "-d", dir], {
        env: { RENCFS_PASSWORD: PW },
      });
      assertEquals(r.code, 0, r.stderr);
      assertMatch(r.stderr, /Recovery code:\n\n {4}\S{20,}\n/);
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

Deno.test({
  name: "after kill -9: mount refuses the dead mount (5); --umount-on-start recovers it",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      await Deno.mkdir(mnt);
      const m = new Mounted(["-m", mnt, "-d", dir]);
      await m.ready(mnt);
      // fusermount3's auto_unmount helper would clean up after the crash: kill it first, so
      // that a dead mount stays behind as after a crash without it.
      for (const pid of await processesMentioning(mnt, "fusermount3")) {
        Deno.kill(pid, "SIGKILL");
      }
      m.child.kill("SIGKILL");
      await m.exit();
      assert(await isFuseMount(mnt), "a dead mount stays in the table");
      // ENOTCONN once the kernel notices nobody serves it (cached attributes may answer first).
      await waitFor("a dead mount", async () => {
        try {
          for await (const _ of Deno.readDir(mnt)) break;
          return false;
        } catch {
          return true;
        }
      }, 5_000);

      const refused = await rencfs(["mount", "-m", mnt, "-d", dir], {
        env: { RENCFS_PASSWORD: PW },
      });
      assertEquals(refused.code, 5, refused.stderr);
      assertMatch(refused.stderr, /already mounted.*--umount-on-start/);

      const again = new Mounted(["--umount-on-start", "-m", mnt, "-d", dir]);
      await again.ready(mnt);
      for await (const _ of Deno.readDir(mnt)) {
        // listing works: the mount is alive again
      }
      again.child.kill("SIGTERM");
      const r = await again.exit();
      assertEquals(r.code, 0, r.stderr);
      assert(!(await isFuseMount(mnt)));
    });
  },
});
