/**
 * `mount --background`: the parent re-runs rencfs detached, hands it the password through a
 * pipe (never argv or the environment), and exits once the child reports the mount ready.
 */
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { ExitCode } from "./exit_codes.ts";
import { log } from "./log.ts";
import { NEW_PASSWORD_ENV, PASSWORD_ENV, RECOVERY_CODE_ENV } from "./password.ts";

/** Set (to "1") in the environment of the detached child; internal. */
export const DAEMON_CHILD_ENV = "RENCFS_DAEMON_CHILD";

/**
 * What the child writes to its stderr (a pipe to the parent) once the mount is up. In-band, so
 * that everything it wrote before (the recovery code of a new data dir!) reaches the parent
 * first; the NULs keep it from matching any log text.
 */
const READY = new TextEncoder().encode("\0rencfs:ready\0\n");

/** Whether this process is the detached child of `mount --background`. */
export function isDaemonChild(): boolean {
  return Deno.env.get(DAEMON_CHILD_ENV) === "1";
}

/** Child side: tells the parent the mount is ready. */
export function reportReady(): void {
  try {
    for (let off = 0; off < READY.length;) off += Deno.stderr.writeSync(READY.subarray(off));
  } catch (e) {
    // The parent is gone (killed while waiting): keep serving the mount anyway.
    log("mount").debug("cannot report readiness: {e}", { e });
  }
}

/**
 * V8 flags the mount runs with (the `./rencfs` launcher passes the same). A small young
 * generation: every FUSE read or write leaves chunk-sized ArrayBuffers behind, whose memory
 * goes back only when a collection finds them dead, so smaller semi-spaces lower the daemon's
 * peak memory without costing throughput. And an old generation that grows by a small fixed
 * step between full collections (V8 otherwise picks 10–300% by its own heuristics): after an
 * untar the kernel keeps tens of thousands of inodes referenced, and a large step lets their
 * garbage pile up. Figures: docs/performance.md, "Choices in the code". Neither flag can be set
 * from inside the process (`node:v8` setFlagsFromString has no effect on them). And `gc`, which
 * threads call to collect the buffers they drop every few MiB (src/util/garbage.ts): only the
 * start-up flag gives the variant that can run a young collection alone.
 */
export const V8_FLAGS = "--max-semi-space-size=2,--heap-growing-percent=10,--expose-gc";

/** The command that runs this program again: `deno run … cli.ts` or a compiled binary. */
function selfCommand(): { cmd: string; args: string[] } {
  const exec = Deno.execPath();
  if (!basename(exec).startsWith("deno")) return { cmd: exec, args: [] };
  const config = fileURLToPath(new URL("../../deno.json", import.meta.url));
  const main = fileURLToPath(Deno.mainModule);
  // --config: the child runs in "/", where deno would not find the import map.
  return {
    cmd: exec,
    args: [
      "run",
      "--quiet",
      "--allow-all",
      "--no-prompt",
      `--v8-flags=${V8_FLAGS}`,
      "--config",
      config,
      main,
    ],
  };
}

/** The environment without any secret, plus the child marker. */
function childEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  for (const k of [PASSWORD_ENV, NEW_PASSWORD_ENV, RECOVERY_CODE_ENV]) delete env[k];
  env[DAEMON_CHILD_ENV] = "1";
  return env;
}

/**
 * Parent side: starts `rencfs <argv>` detached (new session, cwd /), writes `password` to its
 * stdin and relays its stderr until it reports readiness. Returns 0 when the mount is ready,
 * else the child's exit code. The child's stderr is a pipe rather than ours, so that a caller
 * reading our stderr (`$(rencfs mount --background … 2>&1)`) sees it end when we exit; what the
 * child logs afterwards is dropped.
 */
export async function startDaemon(argv: string[], password: string): Promise<number> {
  const self = selfCommand();
  const child = new Deno.Command(self.cmd, {
    args: [...self.args, ...argv],
    cwd: "/",
    clearEnv: true,
    env: childEnv(),
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
    detached: true,
  }).spawn();
  // Ctrl-C while waiting stops the child too, which would otherwise live on in its session.
  const onInterrupt = () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    const writer = child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode(`${password}\n`));
      await writer.close();
    } catch {
      // The child died early; its exit code tells why.
    }
    if (await relayUntilReady(child.stderr)) {
      child.unref();
      return ExitCode.OK;
    }
    const status = await child.status;
    if (status.success) return ExitCode.ERROR; // ended without mounting: should not happen
    return status.signal ? ExitCode.ERROR : status.code;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}

/**
 * Copies the child's stderr to ours up to the {@link READY} marker (true) or its end (false).
 * Holds back a possible partial marker at the end of each chunk.
 */
async function relayUntilReady(stream: ReadableStream<Uint8Array>): Promise<boolean> {
  const reader = stream.getReader();
  let pending = new Uint8Array(0);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        writeErr(pending);
        return false;
      }
      const buf = new Uint8Array(pending.length + value.length);
      buf.set(pending);
      buf.set(value, pending.length);
      const at = indexOf(buf, READY);
      if (at >= 0) {
        writeErr(buf.subarray(0, at));
        return true;
      }
      const keep = Math.min(buf.length, READY.length - 1);
      writeErr(buf.subarray(0, buf.length - keep));
      pending = buf.slice(buf.length - keep);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function writeErr(bytes: Uint8Array): void {
  try {
    for (let off = 0; off < bytes.length;) off += Deno.stderr.writeSync(bytes.subarray(off));
  } catch {
    // our stderr is gone; keep draining so that the child never blocks on a full pipe
  }
}
