/**
 * Directory listings: opendir and readdir over the entry files of a directory's folder. A
 * listing works on the entry file names read when it starts (cookies are positions in that
 * list) and decrypts only the entries of each page.
 * @module
 */
import type { EntryFiles } from "./entry_files.ts";
import type { FsCore } from "./fs_core.ts";
import type { HandleTable } from "./handles.ts";
import type { LookupPrefetcher } from "./prefetch.ts";
import { type DirEntry, ROOT_INO, S_IFDIR } from "./types.ts";

/** Opens and lists directories. */
export class Listing {
  readonly #core: FsCore;
  readonly #handles: HandleTable;
  readonly #entries: EntryFiles;
  readonly #prefetch: LookupPrefetcher;

  constructor(
    core: FsCore,
    handles: HandleTable,
    entries: EntryFiles,
    prefetch: LookupPrefetcher,
  ) {
    this.#core = core;
    this.#handles = handles;
    this.#entries = entries;
    this.#prefetch = prefetch;
  }

  /** A new handle on directory `ino`. */
  async opendir(ino: bigint): Promise<number> {
    await this.#core.dir(ino);
    return this.#handles.openDir(ino);
  }

  /**
   * Lists a directory from cookie `offset`. With `plus` (readdirplus: the caller fetches each
   * entry's attributes next), inodes stored in their entry files become live as they are read,
   * so no second read is needed.
   */
  async readdir(
    ino: bigint,
    fh: number,
    offset: bigint,
    limit: number,
    plus: boolean,
  ): Promise<DirEntry[]> {
    const core = this.#core;
    const h = this.#handles.dir(ino, fh);
    const dir = await core.dir(ino);
    const folder = core.folder(ino);
    // A listing works on the entry file names read when it starts: cookies are positions in
    // that list, so entries added or removed meanwhile are reported at most once, and only
    // the entries of each page are decrypted (the first page of a huge directory is quick).
    if (!h.snapshot || offset === 0n) h.snapshot = await core.dirs.names(folder);
    const names = h.snapshot;
    const out: DirEntry[] = [];
    let pos = Number(offset);
    if (pos === 0 && out.length < limit) {
      out.push({ name: Uint8Array.of(0x2e), ino, type: S_IFDIR, next: BigInt(++pos) });
    }
    if (pos === 1 && out.length < limit) {
      const parent = dir.rec.parent || ROOT_INO;
      out.push({
        name: Uint8Array.of(0x2e, 0x2e),
        ino: parent,
        type: S_IFDIR,
        next: BigInt(++pos),
      });
    }
    // The listing reads the entry files itself: no read-ahead for the lookups that follow.
    if (pos - 2 < names.length) this.#prefetch.markPrefetched(ino);
    while (out.length < limit && pos - 2 < names.length) {
      const files = names.slice(pos - 2, pos - 2 + Math.min(limit - out.length, 512));
      // Entry files whose inode is live (created, renamed or read in this mount) are answered
      // from memory: after an untar, a listing then reads only the files it has not seen.
      const live = files.map((f) => this.#entries.liveFile(ino, f));
      // Evicted ones kept dormant need no read either.
      const dormant = files.map((f, k) => live[k] ? null : this.#entries.dormant.get(ino, f));
      const toRead = files.filter((_, k) => !live[k] && !dormant[k]);
      const read = toRead.length === 0
        ? []
        : await core.dirs.read(ino, folder, toRead, (e) => core.report(e));
      const base = pos;
      let r = 0;
      files.forEach((_, k) => {
        const e = live[k] ?? dormant[k] ?? read[r++];
        if (!e) return;
        // Made live (while the table has room, or for readdirplus, whose entries the kernel
        // keeps), the lookup, stat or unlink that usually follows needs no second read.
        if (!live[k] && e.inline && (plus || core.table.hasRoom)) {
          this.#entries.adopt(ino, folder, e, e.inline);
        }
        out.push({ name: e.name, ino: e.ino, type: e.type, next: BigInt(base + k + 1) });
      });
      pos += files.length;
    }
    return out;
  }
}
