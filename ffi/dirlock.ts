/**
 * A data dir held open by one process: an flock(2) on the data dir itself (exclusive for a
 * writer, shared for read-only openers) so two writers never interleave their updates, and
 * syncfs(2) through the same descriptor. Falls back to no lock and `sync -f` when FFI is not
 * permitted (library use without --allow-ffi).
 */
const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  syncfs: { parameters: ["i32"], result: "i32", nonblocking: true },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

const O_RDONLY = 0, O_DIRECTORY = 0o200000, O_CLOEXEC = 0o2000000;
const LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4;
const EWOULDBLOCK = 11;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;
function libc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | null {
  if (lib === undefined) {
    try {
      lib = Deno.dlopen("libc.so.6", SYMBOLS);
    } catch {
      lib = null;
    }
  }
  return lib?.symbols ?? null;
}

function errno(c: NonNullable<ReturnType<typeof libc>>): number {
  const p = c.__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

/** Another process holds the data dir. */
export class DataDirBusyError extends Error {}

/** The lock on one data dir; `release()` when done. */
export class DirLock {
  private constructor(readonly path: string, readonly fd: number) {}

  /** Takes the lock (exclusive unless `shared`) or throws DataDirBusyError at once. */
  static acquire(path: string, shared: boolean): DirLock {
    const c = libc();
    if (!c) return new DirLock(path, -1);
    const fd = c.open(new TextEncoder().encode(path + "\0"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw new Error(`cannot open data dir ${path} (errno ${errno(c)})`);
    if (c.flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) !== 0) {
      const e = errno(c);
      c.close(fd);
      if (e === EWOULDBLOCK) {
        throw new DataDirBusyError(`${path} is in use by another rencfs process`);
      }
      throw new Error(`cannot lock data dir ${path} (errno ${e})`);
    }
    return new DirLock(path, fd);
  }

  /** syncfs(2) of the filesystem holding the data dir: every write to it made durable. */
  async syncfs(): Promise<void> {
    const c = libc();
    if (c && this.fd >= 0) {
      if ((await c.syncfs(this.fd)) !== 0) throw new Error(`syncfs failed for ${this.path}`);
      return;
    }
    const { success } = await new Deno.Command("sync", { args: ["-f", this.path] }).output();
    if (!success) throw new Error(`sync -f failed for ${this.path}`);
  }

  release(): void {
    const c = libc();
    if (c && this.fd >= 0) c.close(this.fd);
  }
}
