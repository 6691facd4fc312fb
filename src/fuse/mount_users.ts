/**
 * Who still uses a mount: the open files and working directories of every process (in /proc)
 * on the mount's device. Tells the user what a lazily detached mount is waiting for.
 *
 * @module
 */

/** What keeps a mount in use. */
export interface MountUsers {
  /** Open file descriptors on the mount (files and directories, all processes). */
  openFiles: number;
  /** Processes with an open file, their working directory or their root on the mount. */
  processes: number;
}

/** The `st_dev` number of a "major:minor" device as /proc/self/mountinfo prints it. */
export function deviceNumber(majorMinor: string): number | undefined {
  const m = /^(\d+):(\d+)$/.exec(majorMinor);
  if (!m) return undefined;
  const major = Number(m[1]), minor = Number(m[2]);
  // glibc's makedev for the numbers the kernel hands out (major < 4096, minor < 2^20).
  return (minor & 0xff) + (major & 0xfff) * 0x100 + Math.floor(minor / 0x100) * 0x100000;
}

/**
 * Counts the users of the device `dev` (see {@link deviceNumber}). Each file is stat-ed through
 * /proc, asynchronously: a file of this very mount is answered by its serving loop meanwhile.
 * Gives up after `timeoutMs` (a file on another, hung FUSE mount would block its stat) and
 * returns what it counted by then.
 */
export async function mountUsers(dev: number, timeoutMs = 3000): Promise<MountUsers> {
  const users: MountUsers = { openFiles: 0, processes: 0 };
  const deadline = Date.now() + timeoutMs;
  const onDev = async (path: string): Promise<boolean> => {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        Deno.stat(path).then((st) => st.dev === dev, () => false),
        new Promise<false>((r) => timer = setTimeout(() => r(false), left)),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
  let pids: string[];
  try {
    pids = [];
    for await (const e of Deno.readDir("/proc")) if (/^\d+$/.test(e.name)) pids.push(e.name);
  } catch {
    return users; // no /proc
  }
  for (const pid of pids) {
    if (Date.now() > deadline) break;
    let uses = (await onDev(`/proc/${pid}/cwd`)) || (await onDev(`/proc/${pid}/root`));
    try {
      for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
        const path = `/proc/${pid}/fd/${fd.name}`;
        // Pipes, sockets and the like are never on a mount: skip them without a stat.
        const target = await Deno.readLink(path).catch(() => "");
        if (!target.startsWith("/")) continue;
        if (await onDev(path)) {
          users.openFiles++;
          uses = true;
        }
      }
    } catch {
      // the process is gone, or not ours to look at
    }
    if (uses) users.processes++;
  }
  return users;
}

/** "3 open files in 2 processes", "1 process with its working directory inside" … */
export function describeUsers(u: MountUsers): string {
  const s = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (u.openFiles > 0) return `${s(u.openFiles, "open file")} in ${s(u.processes, "process")}`;
  if (u.processes > 0) {
    return `${s(u.processes, "process")} with ${u.processes === 1 ? "its" : "their"} working ` +
      "directory inside";
  }
  return "users that cannot be seen from here (another mount namespace?)";
}
