/**
 * The release as a user gets it: scripts/release builds dist/rencfs-VERSION-x86_64-linux, and
 * an ordinary user (nobody) with an empty HOME and DENO_DIR and no network runs it: --version,
 * init, mount --background, write, read back, unmount. Needs root (to drop to that user and
 * cut the network), /dev/fuse, libfuse3, fusermount3, and the npm registry for the build.
 */
import { fileURLToPath } from "node:url";
import { assertEquals, assertMatch, VERSION } from "./cli_helpers.ts";
import { ignore, processesMentioning, waitFor } from "./cli_mount_helpers.ts";
import { findMount } from "../src/cli/mountinfo.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RELEASE = `${ROOT}/dist/rencfs-${VERSION}-x86_64-linux`;
const USER = { uid: 65534, gid: 65534 }; // nobody
const BUILD_LIMIT_MS = 240_000;

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

async function output(cmd: Deno.Command): Promise<Out> {
  const out = await cmd.output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** Runs `script` with sh as nobody, in a new network namespace (loopback only, down). */
function asUserOffline(script: string, env: Record<string, string>): Promise<Out> {
  return output(
    new Deno.Command("unshare", {
      args: [
        "--net",
        "setpriv",
        `--reuid=${USER.uid}`,
        `--regid=${USER.gid}`,
        "--clear-groups",
        "sh",
        "-euc",
        script,
      ],
      env: { PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", LC_ALL: "C", ...env },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
  );
}

async function hasCommands(...names: string[]): Promise<boolean> {
  for (const name of names) {
    const r = await new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" })
      .output();
    if (!r.success) return false;
  }
  return true;
}

Deno.test({
  name: "the single-file release mounts, writes and reads as an ordinary user without network",
  ignore,
  async fn() {
    if (!(await hasCommands("unshare", "setpriv", "fusermount3", "git"))) {
      console.warn("skipped: needs unshare, setpriv (util-linux), fusermount3 and git");
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
    const fuseMode = (await Deno.stat("/dev/fuse")).mode! & 0o7777;
    try {
      // A "download" in a folder of the user, who owns nothing else here.
      const file = `${tmp}/rencfs-${VERSION}-x86_64-linux`;
      await Deno.copyFile(RELEASE, file);
      await Deno.chmod(file, 0o755);
      for (const d of ["home", "deno-dir", "mnt"]) await Deno.mkdir(`${tmp}/${d}`);
      await Deno.writeTextFile(`${tmp}/pass`, "release test password\n", { mode: 0o600 });
      for (const p of [tmp, file, `${tmp}/home`, `${tmp}/deno-dir`, `${tmp}/mnt`, `${tmp}/pass`]) {
        await Deno.chown(p, USER.uid, USER.gid);
      }
      // Most systems have /dev/fuse 0666; this one may not.
      await Deno.chmod("/dev/fuse", 0o666);
      const env = {
        HOME: `${tmp}/home`,
        DENO_DIR: `${tmp}/deno-dir`,
        RENCFS_KDF_TEST_COST: "1",
        T: tmp,
        R: file,
      };

      const version = await asUserOffline(`"$R" --version`, env);
      assertEquals(version, { code: 0, stdout: `rencfs ${VERSION}\n`, stderr: "" });
      // Unpacked once, into the user's cache.
      const cached = [...Deno.readDirSync(`${tmp}/home/.cache/rencfs`)];
      assertEquals(cached.length, 1, JSON.stringify(cached));
      assertEquals(
        (await Deno.stat(`${tmp}/home/.cache/rencfs/${cached[0].name}/deno`)).uid,
        USER.uid,
      );

      const init = await asUserOffline(
        `"$R" init --data-dir "$T/data" --password-file "$T/pass" >"$T/recovery"`,
        env,
      );
      assertEquals(init.code, 0, init.stderr);

      const mounted = await asUserOffline(
        `"$R" mount --background --data-dir "$T/data" --mount-point "$T/mnt" --password-file "$T/pass"`,
        env,
      );
      assertEquals(mounted.code, 0, mounted.stderr);
      const entry = await findMount(`${tmp}/mnt`);
      assertEquals(entry?.fsType, "fuse.rencfs");
      // Mounted by the user through fusermount3, not by root.
      const line = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
        .find((l) => l.split(" ")[4] === `${tmp}/mnt`);
      assertMatch(line ?? "", new RegExp(`user_id=${USER.uid},`));

      const io = await asUserOffline(
        `echo "written by nobody" >"$T/mnt/hello.txt" && cat "$T/mnt/hello.txt"`,
        env,
      );
      assertEquals(io, { code: 0, stdout: "written by nobody\n", stderr: "" });
      // The file went through the mount: the data dir holds no plaintext of it.
      const leak = await output(
        new Deno.Command("grep", { args: ["-r", "-l", "written by nobody", `${tmp}/data`] }),
      );
      assertEquals(leak.code, 1, leak.stdout);

      const unmounted = await asUserOffline(`fusermount3 -u "$T/mnt"`, env);
      assertEquals(unmounted.code, 0, unmounted.stderr);
      await waitFor(
        "the daemon to exit",
        async () => (await processesMentioning(`${tmp}/data`, "deno")).length === 0,
      );
      assertEquals(await findMount(`${tmp}/mnt`), undefined);
    } finally {
      await Deno.chmod("/dev/fuse", fuseMode);
      await new Deno.Command("umount", { args: ["-l", `${tmp}/mnt`], stderr: "null" }).output();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
