/** Helpers for the CLI tests: run rencfs as a subprocess, hash a directory tree, temp dirs. */
import { fileURLToPath } from "node:url";
import denoJson from "../deno.json" with { type: "json" };

export {
  deepStrictEqual as assertEquals,
  match as assertMatch,
  notDeepStrictEqual as assertNotEquals,
  ok as assert,
} from "node:assert/strict";

/** The version rencfs should report. */
export const VERSION: string = denoJson.version;

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

/** Result of one rencfs run. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of one rencfs run: extra environment, text for stdin (else stdin is /dev/null). */
export interface RunOptions {
  env?: Record<string, string>;
  stdin?: string;
}

/** The argv that runs rencfs with `args`. */
export function rencfsCommandLine(args: string[]): string[] {
  return [Deno.execPath(), "run", "--quiet", "--allow-all", "--no-prompt", CLI, ...args];
}

/**
 * The environment of a rencfs run: ours without any RENCFS_* variable (a developer's
 * RENCFS_PASSWORD must not leak into tests), with the cheap test KDF cost, plus `extra`.
 */
export function rencfsEnv(extra: Record<string, string>): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("RENCFS_")),
  );
  return { ...env, RENCFS_KDF_TEST_COST: "1", ...extra };
}

/** Runs rencfs to completion. */
export async function rencfs(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...rest] = rencfsCommandLine(args);
  const child = new Deno.Command(cmd, {
    args: rest,
    env: rencfsEnv(opts.env ?? {}),
    clearEnv: true,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin)).catch(() => {});
    await w.close().catch(() => {});
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Every entry under `dir` with its type, mode and (files) SHA-256: equal iff nothing changed. */
export async function hashTree(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  async function walk(rel: string): Promise<void> {
    const path = rel === "" ? dir : `${dir}/${rel}`;
    const info = await Deno.lstat(path);
    const mode = (info.mode ?? 0).toString(8);
    if (info.isDirectory) {
      result[rel || "."] = `dir ${mode}`;
      const names = [];
      for await (const e of Deno.readDir(path)) names.push(e.name);
      for (const name of names.sort()) await walk(rel === "" ? name : `${rel}/${name}`);
    } else if (info.isFile) {
      const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
      const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0"));
      result[rel] = `file ${mode} ${hex.join("")}`;
    } else {
      result[rel] = `other ${mode}`;
    }
  }
  await walk("");
  return result;
}

/** A new temporary directory. */
export async function makeTempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "rencfs-cli-test-" });
}

/** Runs `fn` with a temporary directory that is removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await makeTempDir();
  try {
    await fn(dir);
  } finally {
    await detachMountsUnder(dir);
    await Deno.remove(dir, { recursive: true }).catch((e) => {
      console.error(`cannot remove ${dir}: ${e}`); // never hide the test's own failure
    });
  }
}

/** Lazily unmounts whatever a failed test left mounted below `dir`. */
async function detachMountsUnder(dir: string): Promise<void> {
  const mountinfo = await Deno.readTextFile("/proc/self/mountinfo");
  for (const line of mountinfo.split("\n")) {
    const mnt = line.split(" ")[4];
    if (mnt?.startsWith(`${dir}/`)) {
      await new Deno.Command("umount", { args: ["-l", mnt], stderr: "null" }).output();
    }
  }
}

/** Whether the tests run as root (needed to mount tmpfs, and FUSE without fusermount3 rules). */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

/** Whether FUSE can be used here: /dev/fuse and libfuse3 both present. */
export function fuseAvailable(): boolean {
  try {
    if (!Deno.statSync("/dev/fuse").isCharDevice) return false;
  } catch {
    return false;
  }
  for (const lib of ["libfuse3.so.3", "/usr/lib/x86_64-linux-gnu/libfuse3.so.3"]) {
    try {
      Deno.dlopen(lib, {}).close();
      return true;
    } catch {
      // try the next
    }
  }
  return false;
}

/**
 * Runs rencfs on a pseudo-terminal (util-linux `script`), answering each expected prompt once
 * it appears, so that the raw-mode prompt is exercised as a user would see it.
 */
export async function rencfsOnTerminal(
  args: string[],
  dialogue: [prompt: string, answer: string][],
): Promise<{ code: number; output: string }> {
  const cmd = rencfsCommandLine(args).map(shellQuote).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qefc", cmd, "/dev/null"],
    env: rencfsEnv({}),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const decoder = new TextDecoder();
  let output = "";
  let seen = 0;
  const reading = (async () => {
    for await (const chunk of child.stdout) {
      output += decoder.decode(chunk, { stream: true });
      while (seen < dialogue.length && output.includes(dialogue[seen][0], 0)) {
        const [prompt, answer] = dialogue[seen];
        // Answer only once the prompt is shown (raw mode is on by then).
        output = output.replace(prompt, `<${prompt.trim()}>`);
        seen++;
        await new Promise((r) => setTimeout(r, 100));
        await writer.write(new TextEncoder().encode(answer));
      }
    }
  })();
  const status = await child.status;
  await reading;
  await writer.close().catch(() => {});
  await child.stderr.cancel();
  return { code: status.code, output };
}

/** `s` quoted for sh. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
