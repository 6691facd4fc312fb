/** The real-mount CLI tests' helpers: a foreground `rencfs mount` child, mount-table checks. */
import { findMount, isFuse } from "../ffi/mounts.ts";
import { assert, fuseAvailable, isRoot, rencfsCommandLine, rencfsEnv } from "./cli_helpers.ts";
import { skipUnlessRequired } from "./helpers/required.ts";

/** Password of the test data dirs. */
export const PW = "mount test password";

function exists(relative: string): boolean {
  try {
    Deno.statSync(new URL(relative, import.meta.url));
    return true;
  } catch {
    return false;
  }
}

/**
 * `ignore` for tests that mount: they need root, /dev/fuse, libfuse3 and the adapter (a skip
 * fails instead where CI requires FUSE).
 */
export const ignore: boolean = skipUnlessRequired(
  "CLI mount tests",
  !isRoot()
    ? "not root"
    : !fuseAvailable()
    ? "/dev/fuse or libfuse3 is missing"
    : !exists("../src/fuse/mount.ts")
    ? "src/fuse/mount.ts is missing"
    : undefined,
);

/** Polls `check` every 50 ms until it is true; fails after `ms`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function isFuseMount(mnt: string): Promise<boolean> {
  const entry = await findMount(mnt);
  return entry !== undefined && isFuse(entry);
}

/** A FUSE mount that answers (a dead one fails with ENOTCONN). */
export async function isLiveFuseMount(mnt: string): Promise<boolean> {
  if (!(await isFuseMount(mnt))) return false;
  try {
    for await (const _ of Deno.readDir(mnt)) break;
    return true;
  } catch {
    return false;
  }
}

/** A foreground `rencfs mount` running as a child process. */
export class Mounted {
  readonly child: Deno.ChildProcess;
  readonly #stderr: Promise<string>;
  #seen = "";

  /** `wrap`: a command the daemon runs under (`prlimit …`), its arguments first. */
  constructor(
    args: string[],
    env: Record<string, string> = { RENCFS_PASSWORD: PW },
    wrap: string[] = [],
  ) {
    // INFO level: the daemon's own "mounted … at …" line is the readiness signal.
    const [cmd, ...rest] = [
      ...wrap,
      ...rencfsCommandLine(["--log-level", "info", "mount", ...args]),
    ];
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

export async function fusermountU(mnt: string): Promise<void> {
  const out = await new Deno.Command("fusermount3", { args: ["-u", mnt], stderr: "piped" })
    .output();
  assert(out.success, new TextDecoder().decode(out.stderr));
}

/** Processes whose command line mentions `needle` and `program` (as `pgrep -f` would see). */
export async function processesMentioning(needle: string, program = "cli.ts"): Promise<number[]> {
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

/** A bash script as a child: its stdout read line by line, its stdin written to. */
export class Script {
  readonly child: Deno.ChildProcess;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffered = "";

  constructor(script: string) {
    this.child = new Deno.Command("bash", {
      args: ["-c", script],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      env: { LC_ALL: "C" },
    }).spawn();
    this.#reader = this.child.stdout.getReader();
  }

  /** The next line of its stdout (without the newline); fails at its end or after `ms`. */
  async line(ms = 30_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const nl = this.#buffered.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buffered.slice(0, nl);
        this.#buffered = this.#buffered.slice(nl + 1);
        return line;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((r) =>
        timer = setTimeout(() => r("timeout"), Math.max(0, deadline - Date.now()))
      );
      const next = await Promise.race([this.#reader.read(), timeout]);
      clearTimeout(timer);
      if (next === "timeout") throw new Error(`no line within ${ms} ms`);
      if (next.done) throw new Error(`the script ended; it printed: ${this.#buffered}`);
      this.#buffered += this.#decoder.decode(next.value, { stream: true });
    }
  }

  /** Writes `text` to its stdin. */
  async send(text: string): Promise<void> {
    const w = this.child.stdin.getWriter();
    await w.write(new TextEncoder().encode(text));
    w.releaseLock();
  }

  /** Kills it if still running and waits; returns its exit code. */
  async stop(): Promise<number> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // already gone
    }
    return await this.end();
  }

  /** Waits for its end; returns its exit code. */
  async end(): Promise<number> {
    const status = await this.child.status;
    this.#reader.releaseLock();
    await this.child.stdout.cancel().catch(() => {});
    await this.child.stdin.close().catch(() => {});
    return status.code;
  }
}
