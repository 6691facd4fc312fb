/**
 * Deferred deletion. Deleting a backing file frees its blocks (with `discard`, a trim for each
 * extent), which costs more than the rest of an unlink, on the thread that asked. A name
 * must vanish at once, its storage need not: a removed object is renamed into `t/` (one cheap
 * metadata operation, atomic) and deleted there by a background task, one at a time off the JS
 * thread. Whatever a crash leaves in `t/` is deleted at the next writable open. Everything in
 * `t/` is ciphertext nobody refers to any more.
 */
import { linkSync, lstatSync, mkdirSync, rmSync } from "node:fs";
import { listFolderSync } from "./object_io.ts";
import { errnoName, sysError, sysRename } from "../../ffi/sysio.ts";
import { randomBytes } from "../crypto/random.ts";
import { folderOf, FolderSettler, settleFolder } from "./backing_times.ts";
import { TRASH_DIR, TRASH_NAME_BYTES, trashName } from "./format/paths.ts";

/** Removed objects waiting to be deleted. */
export class Trash {
  readonly #dir: string;
  #queue: string[] = [];
  #running: Promise<void> | null = null;
  /** null: not checked yet; false: `t` is not a real directory (planted): never used. */
  #usable: boolean | null = null;
  /** Folders changed by removals (and, through RecordStore, creations): see FolderSettler. */
  readonly folderTimes = new FolderSettler();

  constructor(root: string) {
    this.#dir = `${root}/${TRASH_DIR}`;
  }

  // Whether `t` is a real directory (made now if missing). A symlink planted there would have
  // the sweep delete whatever it points at: such a trash is never used.
  #check(): boolean {
    if (this.#usable !== null) return this.#usable;
    try {
      const st = lstatSync(this.#dir);
      this.#usable = st.isDirectory() && !st.isSymbolicLink();
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
      mkdirSync(this.#dir, { mode: 0o700 });
      settleFolder(this.#dir);
      settleFolder(folderOf(this.#dir));
      this.#usable = true;
    }
    return this.#usable;
  }

  /** Deletes, in the background, whatever an earlier session left in the trash. */
  sweep(): void {
    if (!this.#check()) return;
    // O_NOATIME: an open with nothing to delete leaves no trace on `t`.
    for (const n of listFolderSync(this.#dir) ?? []) this.#queue.push(`${this.#dir}/${n}`);
    this.#kick();
  }

  /**
   * Removes `path` (a file, or a folder with what is in it) from where it is now; its storage
   * is freed in the background. Nothing there: nothing to do.
   */
  discard(path: string): void {
    let kept: string | null;
    try {
      kept = this.hold(path, "rename");
    } catch (e) {
      // Another filesystem under the data dir: delete in place.
      if ((e as { code?: string }).code !== "EXDEV") throw e;
      kept = null;
    }
    if (kept) this.release(kept);
    else if (!this.#usable) {
      rmSync(path, { recursive: true, force: true }); // no usable trash
      settleFolder(folderOf(path));
    }
  }

  /**
   * Takes `path` out of the namespace but keeps it, in the trash, until {@link release}: the
   * backing file of an inode that lost its last name while something still refers to it.
   * `link` keeps a second name there and leaves `path` in place (a rename is about to replace
   * it). Returns the kept path, or null when there is no usable trash or nothing at `path`.
   */
  hold(path: string, how: "rename" | "link"): string | null {
    if (!this.#check()) return null;
    const to = `${this.#dir}/${trashName(randomBytes(TRASH_NAME_BYTES))}`;
    if (how === "link") {
      try {
        linkSync(path, to);
        this.folderTimes.later(this.#dir);
        return to;
      } catch (e) {
        if ((e as { code?: string }).code === "ENOENT") return null;
        throw e;
      }
    }
    const r = sysRename(path, to);
    if (r < 0) {
      if (errnoName(r) === "ENOENT") return null;
      throw sysError(r, "rename", path);
    }
    // Once for a burst of removals (rm -rf): see FolderSettler.
    this.folderTimes.later(folderOf(path));
    this.folderTimes.later(this.#dir);
    return to;
  }

  /** Deletes, in the background, a file kept by {@link hold}. */
  release(kept: string): void {
    this.#queue.push(kept);
    this.#kick();
  }

  #kick(): void {
    if (this.#running || this.#queue.length === 0) return;
    this.#running = (async () => {
      while (this.#queue.length) {
        const batch = this.#queue;
        this.#queue = [];
        // One runtime op per object (node:fs `rm` costs an lstat and several promise layers
        // more on the JS thread, which `rm -rf` of a tree keeps busy).
        for (const p of batch) await Deno.remove(p, { recursive: true }).catch(() => {});
        settleFolder(this.#dir);
      }
    })().finally(() => {
      this.#running = null;
      this.#kick();
    });
  }

  /** Waits until everything discarded so far is deleted. */
  async drain(): Promise<void> {
    while (this.#running) await this.#running;
  }
}
