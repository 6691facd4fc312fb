/**
 * The handle table: the numbers `open`, `create` and `opendir` hand out, and what each stands
 * for. A file handle counts as an open of its inode (`Inode.opens`), which keeps an unlinked
 * inode alive until its last handle is released.
 * @module
 */
import { fsError } from "./errors.ts";
import type { Inode } from "./inode_table.ts";

/** An open regular file (or other non-directory). */
export interface FileHandle {
  ino: bigint;
  dir: false;
}

/** An open directory. */
export interface DirHandle {
  ino: bigint;
  dir: true;
  /** Entry file names when the listing started: cookie 2 + k is the k-th of them. */
  snapshot: string[] | null;
}

/** Handle numbers of one mount and what they stand for. */
export class HandleTable {
  readonly #handles = new Map<number, FileHandle | DirHandle>();
  #nextFh = 1;

  /** A new handle on the file `node`, counted as an open of it. */
  openFile(node: Inode): number {
    const fh = this.#nextFh++;
    this.#handles.set(fh, { ino: node.ino, dir: false });
    node.opens++;
    return fh;
  }

  /** A new handle on directory `ino`. */
  openDir(ino: bigint): number {
    const fh = this.#nextFh++;
    this.#handles.set(fh, { ino, dir: true, snapshot: null });
    return fh;
  }

  /** Throws EBADF unless `fh` is a file handle on inode `ino`. */
  checkFile(ino: bigint, fh: number): void {
    const h = this.#handles.get(fh);
    if (!h || h.ino !== ino || h.dir) throw fsError("EBADF");
  }

  /** The directory handle `fh` on inode `ino` (EBADF when it is not one). */
  dir(ino: bigint, fh: number): DirHandle {
    const h = this.#handles.get(fh);
    if (!h || h.ino !== ino || !h.dir) throw fsError("EBADF");
    return h;
  }

  /** Removes handle `fh` when it is one on inode `ino`; whether it was. */
  take(ino: bigint, fh: number): boolean {
    const h = this.#handles.get(fh);
    if (!h || h.ino !== ino) return false;
    this.#handles.delete(fh);
    return true;
  }

  /** Removes handle `fh`, whatever it is. */
  drop(fh: number): void {
    this.#handles.delete(fh);
  }
}
