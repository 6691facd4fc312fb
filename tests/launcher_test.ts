/**
 * The `./rencfs` launcher on a machine or account whose Deno cache is empty: it must fetch what
 * cli.ts imports instead of refusing (a launcher that passed `--cached-only=false` failed
 * `--help` with "npm package not found in cache"). Needs the npm registry, like the first run.
 */
import { fileURLToPath } from "node:url";
import { assert, assertEquals, VERSION } from "./cli_helpers.ts";

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
