/**
 * A data dir held open by one process: an flock(2) on the data dir itself (exclusive for a
 * writer, shared for read-only openers) so two writers never interleave their updates, and
 * syncfs(2) through the same descriptor. Falls back to no lock and `sync -f` when FFI is not
 * permitted (library use without --allow-ffi).
 */
import { lastError, libcIfAvailable } from "./libc.ts";
import { sysClose, sysOpen, sysSyncfs } from "./sysio.ts";
import { SysError, sysError } from "./sys_error.ts";

const O_RDONLY = 0, O_DIRECTORY = 0o200000;
const LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4;
const EWOULDBLOCK = 11;

/** Another process holds the data dir (a {@link SysError} EWOULDBLOCK of flock). */
export class DataDirBusyError extends SysError {
  override name = "DataDirBusyError";
  constructor(message: string, path?: string) {
    super(EWOULDBLOCK, "flock", path, message);
  }
}

/** The lock on one data dir; `release()` when done. */
export class DirLock {
  private constructor(readonly path: string, readonly fd: number) {}

  /**
   * Takes the lock (exclusive unless `shared`) or throws {@link DataDirBusyError} at once; any
   * other failure is a {@link SysError}.
   */
  static acquire(path: string, shared: boolean): DirLock {
    const c = libcIfAvailable();
    if (!c) return new DirLock(path, -1);
    const fd = sysOpen(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) throw sysError(fd, "open", path);
    if (c.flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) !== 0) {
      const e = lastError("flock", path);
      sysClose(fd);
      if (e.errno === EWOULDBLOCK) {
        throw new DataDirBusyError(`${path} is in use by another rencfs process`, path);
      }
      throw e;
    }
    return new DirLock(path, fd);
  }

  /** syncfs(2) of the filesystem holding the data dir: every write to it made durable. */
  async syncfs(): Promise<void> {
    if (this.fd >= 0) return await sysSyncfs(this.fd, this.path);
    const { success } = await new Deno.Command("sync", { args: ["-f", this.path] }).output();
    if (!success) throw new Error(`sync -f failed for ${this.path}`);
  }

  /** Closes the descriptor, which drops the lock. */
  release(): void {
    if (this.fd >= 0) sysClose(this.fd);
  }
}
