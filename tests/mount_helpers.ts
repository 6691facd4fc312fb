/**
 * Helpers of the real-mount tests (tests/mount_*_test.ts): a fresh encrypted data dir mounted
 * in-process with `mount()`, driven only from subprocesses (shell tools, or a Deno child using
 * node:fs) — never with synchronous fs calls from this process, whose JS thread serves the mount.
 */

import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { type Mount, type MountOptions, mountTuned, type MountTuning } from "../src/fuse/mount.ts";
import { skipUnlessRequired } from "./helpers/required.ts";

export { assertEquals, assertRejects } from "./helpers/assert.ts";

/** Fast key derivation: these tests are about the filesystem, not the KDF. */
export const KDF_COST = { memoryKiB: 8192, iterations: 1 };
/** Password of every test data dir. */
export const PASSWORD = "mount test password";

function canMount(): string | undefined {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not root";
  try {
    Deno.statSync("/dev/fuse");
  } catch {
    return "/dev/fuse is missing";
  }
  const libs = [
    "/usr/lib/x86_64-linux-gnu/libfuse3.so.3",
    "/usr/lib/aarch64-linux-gnu/libfuse3.so.3",
    "/usr/lib64/libfuse3.so.3",
    "/usr/lib/libfuse3.so.3",
  ];
  if (!libs.some((p) => exists(p))) return "libfuse3 is not installed";
  return undefined;
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Why the mount tests are skipped here, if they are. */
export const skipReason: string | undefined = canMount();
/** `ignore` value for Deno.test (a skip fails instead where CI requires FUSE). */
export const ignore: boolean = skipUnlessRequired("mount tests", skipReason);

/** True when the command exists on PATH (some tests need `attr`'s setfattr/getfattr). */
export async function hasCommand(name: string): Promise<boolean> {
  const r = await new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" })
    .output();
  return r.success;
}

/** A mounted test filesystem. */
export interface Mounted {
  /** Mount point. */
  mnt: string;
  /** Data dir (ciphertext). */
  dataDir: string;
  /** Temp folder holding both; free for scratch files outside the mount. */
  tmp: string;
  fs: EncryptedFs;
  mount: Mount;
}

/**
 * Creates a data dir, mounts it, runs `fn`, and always unmounts and closes (a test never leaves
 * a mount behind, dead or alive). With `keepDataDir`, returns the data dir path for a remount.
 */
export async function withMount(
  fn: (m: Mounted) => Promise<void>,
  opts: MountOptions & { dataDir?: string; keepTmp?: boolean; tuning?: MountTuning } = {},
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "rencfs-mount-" });
  const dataDir = opts.dataDir ?? `${tmp}/data`;
  const mnt = `${tmp}/mnt`;
  await Deno.mkdir(mnt);
  let fs: EncryptedFs;
  if (opts.dataDir) {
    fs = await EncryptedFs.open(dataDir, { password: PASSWORD }, { readOnly: opts.readOnly });
  } else {
    fs = (await EncryptedFs.create(dataDir, PASSWORD, { kdfCost: KDF_COST })).fs;
  }
  let m: Mount | undefined;
  try {
    m = await mountTuned(fs, mnt, { fsName: `rencfs:${dataDir}`, ...opts }, opts.tuning ?? {});
    await fn({ mnt: m.mountPoint, dataDir, tmp, fs, mount: m });
  } finally {
    try {
      if (m) await m.unmount();
    } finally {
      await fs.close().catch(() => {});
      if (!opts.keepTmp) await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  }
}

/** Result of a subprocess. */
export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `script` with bash in a subprocess; never throws. */
export async function shRun(script: string, cwd?: string): Promise<Output> {
  const out = await new Deno.Command("bash", {
    args: ["-euo", "pipefail", "-c", script],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs `script` with bash; throws with its stderr when it fails; returns trimmed stdout. */
export async function sh(script: string, cwd?: string): Promise<string> {
  const r = await shRun(script, cwd);
  if (r.code !== 0) {
    throw new Error(`bash failed (${r.code}): ${script}\n${r.stderr}${r.stdout}`);
  }
  return r.stdout.trim();
}

/**
 * Runs `body` (TypeScript, top-level await allowed; `fs` is node:fs, `MNT` the mount point) in a
 * Deno subprocess with FFI allowed, and returns what it prints as JSON via `out(value)`.
 */
export async function inChild<T>(mnt: string, body: string): Promise<T> {
  const src = [
    `import fs from "node:fs";`,
    `const MNT = ${JSON.stringify(mnt)};`,
    `function out(v: unknown) { console.log(JSON.stringify(v, (_k, x) => ` +
    `typeof x === "bigint" ? x.toString() : x)); }`,
    `function errCode(f: () => unknown): string { try { f(); return "ok"; } ` +
    `catch (e) { return (e as { code?: string }).code ?? String(e); } }`,
    body,
  ].join("\n");
  const file = await Deno.makeTempFile({ prefix: "rencfs-child-", suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, src);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "--no-config", "--no-lock", file],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    if (!out.success) {
      throw new Error(`child failed (${out.code}):\n${dec.decode(out.stderr)}`);
    }
    const lines = dec.decode(out.stdout).trim().split("\n");
    return JSON.parse(lines[lines.length - 1]) as T;
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

/** True while `path` is a mount point in this mount namespace. */
export async function isMounted(path: string): Promise<boolean> {
  const text = await Deno.readTextFile("/proc/self/mountinfo");
  return text.split("\n").some((l) => {
    const f = l.split(" ");
    return f[4]?.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))) === path;
  });
}
