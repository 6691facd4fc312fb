/**
 * Helpers of the tests that run rencfs as an ordinary user would get it (the launcher, the
 * single-file release): run a script as `nobody`, optionally without network, and make
 * /dev/fuse usable by that user for a while.
 */
import { findMount } from "../ffi/mounts.ts";
import { assertEquals, assertMatch } from "./cli_helpers.ts";
import { processesMentioning, waitFor } from "./cli_mount_helpers.ts";

/** The ordinary user the tests run as. */
export const USER = { uid: 65534, gid: 65534 }; // nobody

/** Output of a finished command. */
export interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` to completion and decodes its output. */
export async function output(cmd: Deno.Command): Promise<Out> {
  const out = await cmd.output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/**
 * Runs `script` with `sh -eu` as {@link USER}, with only `env` (plus a PATH). `offline`: in a
 * new network namespace, where only a loopback interface that is down exists.
 */
export function asUser(
  script: string,
  env: Record<string, string>,
  opts: { offline?: boolean; cwd?: string } = {},
): Promise<Out> {
  const setpriv = [
    "setpriv",
    `--reuid=${USER.uid}`,
    `--regid=${USER.gid}`,
    "--clear-groups",
    "sh",
    "-euc",
    script,
  ];
  const [cmd, ...args] = opts.offline ? ["unshare", "--net", ...setpriv] : setpriv;
  return output(
    new Deno.Command(cmd, {
      args,
      cwd: opts.cwd,
      env: { PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", LC_ALL: "C", ...env },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
  );
}

/** Whether every command is on PATH. */
export async function hasCommands(...names: string[]): Promise<boolean> {
  for (const name of names) {
    const r = await new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" })
      .output();
    if (!r.success) return false;
  }
  return true;
}

const DEV_FUSE_LOCK = "/tmp/rencfs-tests-dev-fuse.lock";

/**
 * Runs `fn` with /dev/fuse readable and writable by everyone (as most distributions ship it;
 * some test machines have 0600), then restores its mode. Test files run in parallel: a lock
 * keeps one from restoring the mode while another still needs it.
 */
export async function withUsableDevFuse<T>(fn: () => Promise<T>): Promise<T> {
  const lock = await Deno.open(DEV_FUSE_LOCK, { create: true, write: true });
  await lock.lock(true);
  const mode = (await Deno.stat("/dev/fuse")).mode! & 0o7777;
  try {
    await Deno.chmod("/dev/fuse", 0o666);
    return await fn();
  } finally {
    await Deno.chmod("/dev/fuse", mode);
    await lock.unlock();
    lock.close();
  }
}

/**
 * Through `run`, as the user `uid`: `rencfs init` of `${tmp}/data`, `mount --background` at
 * `${tmp}/mnt`, a file written and read back through the mount, then `fusermount3 -u` and the
 * daemon's exit. `run` gets a script using $R (the rencfs command) and $T (`tmp`, which `uid`
 * must be able to write); the password is in $T/pass.
 */
export async function mountRoundTrip(
  tmp: string,
  run: (script: string) => Promise<Out>,
  uid: number = USER.uid,
): Promise<void> {
  await Deno.writeTextFile(`${tmp}/pass`, "user test password\n", { mode: 0o600 });
  await Deno.mkdir(`${tmp}/mnt`);
  for (const p of [`${tmp}/pass`, `${tmp}/mnt`]) await Deno.chown(p, uid, uid === 0 ? 0 : USER.gid);
  try {
    const init = await run(
      `"$R" init --data-dir "$T/data" --password-file "$T/pass" --recovery-code-file "$T/recovery"`,
    );
    assertEquals(init.code, 0, init.stderr);

    const mounted = await run(
      `"$R" mount --background --data-dir "$T/data" --mount-point "$T/mnt" --password-file "$T/pass"`,
    );
    assertEquals(mounted.code, 0, mounted.stderr);
    // Mounted by that user (through fusermount3 unless root).
    const line = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
      .find((l) => l.split(" ")[4] === `${tmp}/mnt`);
    assertMatch(line ?? "", new RegExp(` - fuse\\.rencfs .*user_id=${uid},`));

    const io = await run(
      `echo "written by the user" >"$T/mnt/hello.txt" && cat "$T/mnt/hello.txt"`,
    );
    assertEquals(io, { code: 0, stdout: "written by the user\n", stderr: "" });
    // The file went through the mount: the data dir holds no plaintext of it.
    const leak = await output(
      new Deno.Command("grep", { args: ["-r", "-l", "written by the user", `${tmp}/data`] }),
    );
    assertEquals(leak.code, 1, leak.stdout);

    const unmounted = await run(`fusermount3 -u "$T/mnt"`);
    assertEquals(unmounted.code, 0, unmounted.stderr);
    await waitFor(
      "the daemon to exit",
      async () => (await processesMentioning(`${tmp}/data`, "deno")).length === 0,
    );
    assertEquals(await findMount(`${tmp}/mnt`), undefined);
  } finally {
    await new Deno.Command("umount", { args: ["-l", `${tmp}/mnt`], stderr: "null" }).output();
  }
}
