/**
 * packaging/rencfs@.service: systemd accepts it (systemd-analyze verify), and its commands do
 * what the unit promises when run as systemd runs them (variables and %d substituted; there is
 * no running systemd to start it here): ExecStart mounts in the foreground, ExecStartPost
 * returns once the mount is there, SIGTERM (systemctl stop) unmounts and rencfs exits 0.
 * Needs root and FUSE.
 */
import { fileURLToPath } from "node:url";
import { assert, assertEquals, rencfs, withTempDir } from "./cli_helpers.ts";
import { ignore, isLiveFuseMount, waitFor } from "./cli_mount_helpers.ts";
import { findMount } from "../ffi/mounts.ts";
import { hasCommands, output } from "./launcher_helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const UNIT = `${ROOT}/packaging/rencfs@.service`;
const LAUNCHER = `${ROOT}/rencfs`;

/** The value of `key=` in the unit (the first such line). */
function directive(unit: string, key: string): string {
  const line = unit.split("\n").find((l) => l.startsWith(`${key}=`));
  assert(line !== undefined, `no ${key}= in the unit`);
  return line.slice(key.length + 1);
}

/**
 * An unquoted command line split as systemd does: `${NAME}` is one word, a bare `$NAME` is
 * split at whitespace (nothing when empty), `%d` is the credentials directory.
 */
function expandCommand(line: string, env: Record<string, string>, credentials: string): string[] {
  return line.split(/\s+/).flatMap((word) => {
    const bare = /^\$(\w+)$/.exec(word);
    if (bare) return (env[bare[1]] ?? "").split(/\s+/).filter((w) => w !== "");
    return [
      word.replace(/\$\{(\w+)\}/g, (_, name: string) => env[name] ?? "")
        .replaceAll("%d", credentials),
    ];
  });
}

Deno.test({
  name: "systemd-analyze verify accepts packaging/rencfs@.service",
  async fn() {
    if (!(await hasCommands("systemd-analyze"))) {
      console.warn("skipped: systemd-analyze is not installed");
      return;
    }
    await withTempDir(async (tmp) => {
      // An instance of the template, with an rencfs that exists here.
      const unit = (await Deno.readTextFile(UNIT)).replaceAll("/usr/local/bin/rencfs", LAUNCHER);
      await Deno.writeTextFile(`${tmp}/rencfs@test.service`, unit);
      const out = await output(
        new Deno.Command("systemd-analyze", {
          args: ["verify", "--man=no", `${tmp}/rencfs@test.service`],
          stdout: "piped",
          stderr: "piped",
        }),
      );
      assertEquals({ code: out.code, stderr: out.stderr }, { code: 0, stderr: "" });
    });
  },
});

Deno.test({
  name: "rencfs@.service's ExecStart mounts, ExecStartPost waits for it, SIGTERM unmounts",
  ignore,
  async fn() {
    await withTempDir(async (tmp) => {
      const unit = await Deno.readTextFile(UNIT);
      const credentials = `${tmp}/credentials`;
      await Deno.mkdir(credentials);
      await Deno.writeTextFile(`${credentials}/password`, "unit test password\n", { mode: 0o400 });
      await Deno.mkdir(`${tmp}/mnt`);
      // What /etc/rencfs/NAME.conf would hold.
      const env = {
        ...Deno.env.toObject(),
        DATA_DIR: `${tmp}/data`,
        MOUNT_POINT: `${tmp}/mnt`,
        RENCFS_OPTIONS: "--log-level INFO",
        RENCFS_KDF_TEST_COST: "1",
      };
      const init = await rencfs([
        "init",
        "--data-dir",
        env.DATA_DIR,
        "--password-file",
        `${credentials}/password`,
        "--recovery-code-file",
        "-",
      ]);
      assertEquals(init.code, 0, init.stderr);

      const [cmd, ...args] = expandCommand(directive(unit, "ExecStart"), env, credentials);
      assertEquals(cmd, "/usr/local/bin/rencfs");
      const main = new Deno.Command(LAUNCHER, {
        args,
        env,
        clearEnv: true,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const stderr = new Response(main.stderr).text();
      try {
        const post = /^\/bin\/sh -c '(.*)'$/.exec(directive(unit, "ExecStartPost"));
        assert(post, "ExecStartPost is not /bin/sh -c '…'");
        const ready = await output(
          new Deno.Command("timeout", {
            args: ["60", "/bin/sh", "-c", post[1]],
            env,
            clearEnv: true,
            stdout: "piped",
            stderr: "piped",
          }),
        );
        assertEquals(ready.code, 0, ready.stderr);
        assert(await isLiveFuseMount(env.MOUNT_POINT));
        await Deno.writeTextFile(`${tmp}/probe.sh`, `echo unit > "$1/f" && cat "$1/f"`);
        const io = await output(
          new Deno.Command("sh", { args: [`${tmp}/probe.sh`, env.MOUNT_POINT], stdout: "piped" }),
        );
        assertEquals(io.stdout, "unit\n");
      } finally {
        main.kill("SIGTERM");
      }
      const status = await main.status;
      assertEquals(status.code, 0, await stderr);
      await waitFor("unmounted", async () => (await findMount(env.MOUNT_POINT)) === undefined);
    });
  },
});
