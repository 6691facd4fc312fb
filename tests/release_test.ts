/**
 * The release as a user gets it: scripts/release builds dist/rencfs-VERSION-x86_64-linux, and
 * an ordinary user (nobody) with an empty HOME and DENO_DIR and no network runs it: --version,
 * init, mount --background, write, read back, unmount. Needs root (to drop to that user and
 * cut the network), /dev/fuse, libfuse3, fusermount3, and the npm registry for the build.
 */
import { fileURLToPath } from "node:url";
import { assertEquals, assertMatch, VERSION } from "./cli_helpers.ts";
import { ignore, processesMentioning, waitFor } from "./cli_mount_helpers.ts";
import {
  asUser,
  hasCommands,
  mountRoundTrip,
  output,
  USER,
  withUsableDevFuse,
} from "./launcher_helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RELEASE = `${ROOT}/dist/rencfs-${VERSION}-x86_64-linux`;
const BUILD_LIMIT_MS = 240_000;

Deno.test({
  name: "the single-file release mounts, writes and reads as an ordinary user without network",
  ignore,
  async fn() {
    if (!(await hasCommands("unshare", "setpriv", "fusermount3"))) {
      console.warn("skipped: needs unshare, setpriv (util-linux) and fusermount3");
      return;
    }
    const started = Date.now();
    const build = new Deno.Command(`${ROOT}/scripts/release`, {
      args: ["--no-compile"],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(BUILD_LIMIT_MS),
    });
    const built = await output(build);
    assertEquals(built.code, 0, `${built.stdout}\n${built.stderr}`);
    assertMatch(
      built.stdout,
      new RegExp(`rencfs-${VERSION}-x86_64-linux +[0-9.]+ MB +sha256 [0-9a-f]{64}`),
    );
    console.log(`release built in ${((Date.now() - started) / 1000).toFixed(0)} s`);

    const tmp = await Deno.makeTempDir({ prefix: "rencfs-release-" });
    try {
      // A "download" in a folder of the user, who owns nothing else here.
      const file = `${tmp}/rencfs-${VERSION}-x86_64-linux`;
      await Deno.copyFile(RELEASE, file);
      await Deno.chmod(file, 0o755);
      for (const d of ["home", "deno-dir"]) await Deno.mkdir(`${tmp}/${d}`);
      for (const p of [tmp, file, `${tmp}/home`, `${tmp}/deno-dir`]) {
        await Deno.chown(p, USER.uid, USER.gid);
      }
      const env = {
        HOME: `${tmp}/home`,
        DENO_DIR: `${tmp}/deno-dir`,
        RENCFS_KDF_TEST_COST: "1",
        T: tmp,
        R: file,
      };
      const offline = (script: string) => asUser(script, env, { offline: true });

      const version = await offline(`"$R" --version`);
      assertEquals(version, { code: 0, stdout: `rencfs ${VERSION}\n`, stderr: "" });
      // Unpacked once, into the user's cache.
      const cached = [...Deno.readDirSync(`${tmp}/home/.cache/rencfs`)];
      assertEquals(cached.length, 1, JSON.stringify(cached));
      const deno = await Deno.stat(`${tmp}/home/.cache/rencfs/${cached[0].name}/deno`);
      assertEquals(deno.uid, USER.uid);

      await withUsableDevFuse(async () => {
        await mountRoundTrip(tmp, offline);
        // The form mount.fuse3 uses for a fuse.rencfs line of /etc/fstab, on the same data dir.
        const fstab = await offline(`"$R" "$T/data" "$T/mnt" -o "passfile=$T/pass,nofail" &&
          cat "$T/mnt/hello.txt" && fusermount3 -u "$T/mnt"`);
        assertEquals(fstab.code, 0, fstab.stderr);
        assertEquals(fstab.stdout, "written by the user\n");
        await waitFor(
          "the daemon to exit",
          async () => (await processesMentioning(`${tmp}/data`, "deno")).length === 0,
        );
      });
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
