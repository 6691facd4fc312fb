/**
 * The machine side of the crash rounds (power_cut.ts): which tools exist, commands, the ext4
 * image's shutdown, unmounts and superblock, the kernel log, and the `rencfs mount` daemon.
 */
import { findMount, isFuse } from "../../ffi/mounts.ts";
import { rencfsCommandLine, rencfsEnv } from "../cli_helpers.ts";

/** Password of the crash tests' data dirs. */
export const PASSWORD = "crash test password";

/** _IOR('X', 125, __u32) */
const EXT4_IOC_SHUTDOWN = 0x8004587dn;
/** Drop the journal's uncommitted transactions, as a power cut would. */
const EXT4_GOING_FLAGS_NOLOGFLUSH = 2;

async function which(cmd: string): Promise<string | undefined> {
  for (const dir of ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]) {
    try {
      await Deno.stat(`${dir}/${cmd}`);
      return `${dir}/${cmd}`;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Why crash tests cannot run here (not root, no loop devices, mkfs.ext4 or FUSE), if so. */
export async function crashSkipReason(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not root";
  for (const cmd of ["losetup", "mkfs.ext4", "mount", "umount"]) {
    if (!(await which(cmd))) return `${cmd} is missing`;
  }
  try {
    if (!(await Deno.stat("/dev/fuse")).isCharDevice) return "/dev/fuse is not a device";
  } catch {
    return "/dev/fuse is missing";
  }
  try {
    await Deno.stat("/dev/loop-control");
  } catch {
    return "/dev/loop-control is missing";
  }
  const free = await run("losetup", "--find");
  if (!free.ok) return `no free loop device: ${free.out}`;
  return undefined;
}

/** A command's success and output. */
export interface CmdResult {
  ok: boolean;
  out: string;
}

/** Runs a command; its success and its output (stdout, then stderr). */
export async function run(cmd: string, ...args: string[]): Promise<CmdResult> {
  const r = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { ok: r.success, out: (dec.decode(r.stdout) + dec.decode(r.stderr)).trim() };
}

/** Runs a command; throws with its output when it fails; returns the output. */
export async function must(cmd: string, ...args: string[]): Promise<string> {
  const r = await run(cmd, ...args);
  if (!r.ok) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.out}`);
  return r.out;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Shuts the ext4 file system mounted at `mnt` down as a power cut would (no journal flush). */
export function ext4Shutdown(mnt: string): void {
  const libc = Deno.dlopen("libc.so.6", {
    open: { parameters: ["buffer", "i32"], result: "i32" },
    ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
  });
  try {
    const O_DIRECTORY = 0o200000;
    const fd = libc.symbols.open(new TextEncoder().encode(`${mnt}\0`), O_DIRECTORY);
    if (fd < 0) throw new Error(`open ${mnt} failed`);
    const flags = new Uint32Array([EXT4_GOING_FLAGS_NOLOGFLUSH]);
    const r = libc.symbols.ioctl(fd, EXT4_IOC_SHUTDOWN, new Uint8Array(flags.buffer));
    libc.symbols.close(fd);
    if (r !== 0) throw new Error(`EXT4_IOC_SHUTDOWN on ${mnt} failed`);
  } finally {
    libc.close();
  }
}

/** A foreground `rencfs mount` whose stderr goes to a log (kept in memory too). */
export class Daemon {
  readonly child: Deno.ChildProcess;
  readonly done: Promise<Deno.CommandStatus>;
  log = "";
  #pump: Promise<void>;
  #exited = false;

  constructor(mnt: string, dataDir: string) {
    const [cmd, ...args] = rencfsCommandLine([
      "--log-level",
      "info",
      "mount",
      "-m",
      mnt,
      "-d",
      dataDir,
    ]);
    this.child = new Deno.Command(cmd, {
      args,
      env: rencfsEnv({ RENCFS_PASSWORD: PASSWORD }),
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.done = this.child.status.then((s) => {
      this.#exited = true;
      return s;
    });
    const dec = new TextDecoder();
    const stderr = this.child.stderr;
    this.#pump = (async () => {
      for await (const b of stderr) this.log += dec.decode(b, { stream: true });
    })();
  }

  /** Waits until the daemon logged that it mounted and the mount answers. */
  async ready(mnt: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (this.#exited) {
        await this.#pump;
        throw new Error(`rencfs exited before mounting:\n${this.log}`);
      }
      if (/ mounted .* at /.test(this.log) && await isLiveFuse(mnt)) return;
      if (Date.now() > deadline) throw new Error(`rencfs did not mount in 30 s:\n${this.log}`);
      await sleep(25);
    }
  }

  kill(): void {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  async exit(): Promise<Deno.CommandStatus> {
    const s = await this.done;
    await this.#pump;
    return s;
  }
}

async function isLiveFuse(mnt: string): Promise<boolean> {
  const m = await findMount(mnt);
  if (!m || !isFuse(m)) return false;
  try {
    for await (const _ of Deno.readDir(mnt)) break;
    return true;
  } catch {
    return false;
  }
}

/** Kernel time stamp of a dmesg line ("[ 123.456789] …"), or -1. */
function stamp(line: string): number {
  const m = /^\[\s*(\d+\.\d+)\]/.exec(line);
  return m ? Number(m[1]) : -1;
}

/** Kernel messages about `dev` logged after time stamp `since` (the ring buffer may wrap). */
export async function dmesgTail(dev: string, since: number): Promise<string[]> {
  const r = await run("dmesg");
  if (!r.ok) return [];
  const name = dev.split("/").pop()!;
  return r.out.split("\n").filter((l) => stamp(l) > since && new RegExp(`\\b${name}\\b`).test(l));
}

/** Time stamp of the kernel's latest message. */
export async function dmesgNow(): Promise<number> {
  const r = await run("dmesg");
  const lines = r.ok ? r.out.split("\n") : [];
  return lines.length ? stamp(lines[lines.length - 1]) : -1;
}

/** Detaches the FUSE mount at `mnt` if it is still there (a dead one after kill -9). */
export async function detachFuse(mnt: string): Promise<void> {
  for (let i = 0; i < 50 && await findMount(mnt); i++) {
    await run("umount", "-l", mnt);
  }
}

/**
 * Unmounts the ext4 file system; a lazy unmount only as a last resort, since the image must be
 * really unmounted before it is mounted again (else the kernel reuses the shut-down superblock
 * and the journal does not replay).
 */
export async function unmountExt4(mnt: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (!(await findMount(mnt))) return;
    const r = await run("umount", mnt);
    if (r.ok) return;
    await sleep(50);
  }
  await run("umount", "-l", mnt);
  throw new Error(`${mnt} stayed busy; detached lazily`);
}

/**
 * Waits until the kernel has freed the shut-down file system of `dev`: mounting it again while
 * its superblock lives would reuse that superblock (still shut down) instead of replaying the
 * journal.
 */
export async function superblockGone(dev: string): Promise<void> {
  const sys = `/sys/fs/ext4/${dev.split("/").pop()}`;
  for (let i = 0; i < 200; i++) {
    if (!(await Deno.stat(sys).then(() => true, () => false))) return;
    await sleep(50);
  }
  throw new Error(`${sys} still there 10 s after umount: the file system is still in use`);
}

/**
 * Runs `cmd args` in a child with its output piped, killed after `ms` (a hung FUSE request must
 * not hang the caller), and returns its output.
 */
export async function outputWithin(
  cmd: string,
  args: string[],
  ms = 60_000,
): Promise<Deno.CommandOutput> {
  const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
    .spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    return await child.output();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Removes everything under the mount with `rm -rf` (in a child, killed if hung) and checks that
 * the root then lists empty: an entry hidden from listings as damaged would make its directory
 * impossible to remove.
 */
export async function removeAll(mnt: string): Promise<string | undefined> {
  const out = await outputWithin("sh", [
    "-c",
    'cd "$1" || exit 9; rc=0; for e in * .[!.]*; do [ -e "$e" ] && { rm -rf -- "$e" || rc=1; }; done; ls -A; exit $rc',
    "sh",
    mnt,
  ]);
  const dec = new TextDecoder();
  const left = dec.decode(out.stdout).trim();
  if (out.success && left === "") return undefined;
  return `rm -rf of every round failed (exit ${out.code}): ${dec.decode(out.stderr).trim()}` +
    (left ? `; left: ${left.split("\n").join(" ")}` : "");
}
