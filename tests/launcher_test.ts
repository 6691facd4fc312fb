/**
 * The `./rencfs` launcher on a machine or account whose Deno cache is empty: it must fetch what
 * cli.ts imports instead of refusing (a launcher that passed `--cached-only=false` failed
 * `--help` with "npm package not found in cache"). Needs the npm registry, like the first run.
 */
import { fileURLToPath } from "node:url";
import { assert, assertEquals, VERSION } from "./cli_helpers.ts";
import { ignore } from "./cli_mount_helpers.ts";
import {
  asUser,
  hasCommands,
  mountRoundTrip,
  output,
  USER,
  withUsableDevFuse,
} from "./launcher_helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LAUNCHER = fileURLToPath(new URL("../rencfs", import.meta.url));

Deno.test("./rencfs --help works with an empty HOME and DENO_DIR (first run of a new user)", async () => {
  const home = await Deno.makeTempDir({ prefix: "rencfs-launcher-home-" });
  const denoDir = await Deno.makeTempDir({ prefix: "rencfs-launcher-deno-" });
  try {
    // Everything else as it is (proxies, CA bundles); only the caches are new and empty.
    const env = Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([k]) => k !== "XDG_CACHE_HOME"),
    );
    Object.assign(env, { HOME: home, DENO_DIR: denoDir, NO_COLOR: "1" });
    const out = await new Deno.Command(LAUNCHER, {
      args: ["--help"],
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, stderr);
    assert(stdout.startsWith(`rencfs ${VERSION}:`), stdout);
    assert(/Usage: rencfs/.test(stdout), stdout);
    // The packages really came into the new cache (the test did not pass on a shared one).
    assert((await Deno.stat(`${denoDir}/npm`)).isDirectory);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(denoDir, { recursive: true }).catch(() => {});
  }
});

/** Our environment with new, empty caches (HOME, DENO_DIR); proxies and CA bundles stay. */
function emptyCacheEnv(tmp: string): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) =>
      k !== "XDG_CACHE_HOME" && !k.startsWith("RENCFS_")
    ),
  );
  return {
    ...env,
    HOME: `${tmp}/home`,
    DENO_DIR: `${tmp}/deno-dir`,
    NO_COLOR: "1",
    RENCFS_KDF_TEST_COST: "1",
    T: tmp,
  };
}

Deno.test({
  name: "./rencfs init and mount work on root's first run with an empty HOME and DENO_DIR",
  ignore,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "rencfs-launcher-" });
    try {
      for (const d of ["home", "deno-dir"]) await Deno.mkdir(`${tmp}/${d}`);
      const env = { ...emptyCacheEnv(tmp), R: LAUNCHER };
      await mountRoundTrip(tmp, (script) =>
        output(
          new Deno.Command("sh", {
            args: ["-euc", script],
            env,
            clearEnv: true,
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
          }),
        ), 0);
      assert((await Deno.stat(`${tmp}/deno-dir/npm`)).isDirectory);
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "./rencfs --help, init and mount work for an ordinary user in their own checkout copy",
  ignore,
  async fn() {
    if (!(await hasCommands("setpriv", "fusermount3", "git"))) {
      console.warn("skipped: needs setpriv (util-linux), fusermount3 and git");
      return;
    }
    const tmp = await Deno.makeTempDir({ prefix: "rencfs-launcher-user-" });
    try {
      // The checkout as the user would have it (a clone of their own); Deno, already
      // installed, is shared as in a worktree.
      const copy = `${tmp}/checkout`;
      await Deno.mkdir(copy);
      const files = await output(
        new Deno.Command("git", { args: ["ls-files", "-z"], cwd: ROOT, stdout: "piped" }),
      );
      for (const f of files.stdout.split("\0").filter((f) => f !== "")) {
        const target = `${copy}/${f}`;
        await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
        await Deno.copyFile(`${ROOT}/${f}`, target).catch((e) => {
          if (!(e instanceof Deno.errors.NotFound)) throw e; // deleted, not yet committed
        });
      }
      await Deno.symlink(await Deno.realPath(`${ROOT}/.deno`), `${copy}/.deno`);
      for (const d of ["home", "deno-dir"]) await Deno.mkdir(`${tmp}/${d}`);
      const chown = await output(
        new Deno.Command("chown", { args: ["-hR", `${USER.uid}:${USER.gid}`, tmp] }),
      );
      assertEquals(chown.code, 0, chown.stderr);
      const env = { ...emptyCacheEnv(tmp), R: `${copy}/rencfs` };
      const run = (script: string) => asUser(script, env, { cwd: copy });

      const help = await run(`"$R" --help`);
      assertEquals(help.code, 0, help.stderr);
      assert(help.stdout.startsWith(`rencfs ${VERSION}:`), help.stdout);
      await withUsableDevFuse(() => mountRoundTrip(tmp, run));
      assert((await Deno.stat(`${tmp}/deno-dir/npm`)).isDirectory);
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
