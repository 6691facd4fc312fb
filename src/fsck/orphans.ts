/**
 * The orphan search of an fsck pass: inode files and entry folders on disk that no name the walk
 * followed reaches. An inode file opens only with its inode number, so an orphan can be read
 * only when a name or a directory record mentions it; the others can only be set aside.
 * @module
 */
import { lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { randomBytes } from "../crypto/random.ts";
import { isDir, isRegular, isSymlink, newRecord } from "../store/inode_record.ts";
import { objectPaths } from "../store/format/paths.ts";
import { ROOT_INO, S_IFDIR, S_IFMT } from "../store/posix.ts";
import { type CheckState, type Info, randomIno, typeName } from "./check_state.ts";
import type { Phase } from "./repair.ts";
import { kindOf, type ObjectFiles } from "./scan.ts";
import type { TreeWalk } from "./walk.ts";

const enc = new TextEncoder();
const LOST_FOUND = enc.encode("lost+found");

/** Finds what no name reaches and plans where it goes. */
export class OrphanSearch {
  readonly #s: CheckState;
  readonly #walk: TreeWalk;
  #lostFound: Info | null | undefined;

  constructor(state: CheckState, walk: TreeWalk) {
    this.#s = state;
    this.#walk = walk;
  }

  /** Identifies, reconnects or sets aside every object no name reached. */
  async run(): Promise<void> {
    // An inode file opens only with its inode number, which only names and directory records
    // hold: an orphan is identified when one of them mentions it. Identifying one may reveal
    // others (its entries), hence the loop.
    for (let found = true; found;) {
      found = false;
      for (const ino of [...this.#s.candidates]) {
        const obj = this.#s.keys.objectName(ino);
        if (this.#s.handled.has(obj)) continue;
        const files = this.#s.inv.objects.get(obj);
        if (!files || !files.record) continue;
        this.#s.handled.add(obj);
        found = true;
        this.#s.tick();
        await this.#identified(ino, files);
      }
      await this.#walk.drain();
    }
    for (const [obj, files] of this.#s.inv.objects) {
      if (!this.#s.handled.has(obj)) this.#unidentified(obj, files);
    }
  }

  async #identified(ino: bigint, files: ObjectFiles): Promise<void> {
    const p = this.#s.records.paths(ino);
    const recRel = this.#s.rel(p.record);
    const dirRel = this.#s.rel(p.entries);
    const both: [Phase, () => unknown][] = [["remove", () => this.#s.q(recRel)]];
    if (files.folder) both.push(["remove", () => this.#s.q(dirRel)]);
    const inEntry = this.#s.inodes.get(ino);
    if (inEntry) {
      // Left by a hard link cut short: step (2) linked the entry file to its object place,
      // step (3) never replaced the entry file by a pointer.
      const same = this.#sameFile(p.record, inEntry.place.path);
      this.#s.problem(
        "twin",
        inEntry.path,
        `${recRel} is ${same ? "a second name" : "an old copy"} of its inode file, ` +
          "left by a hard link cut short; nothing points at it",
        same ? "removed that second name" : "moved the old copy to q/",
        same ? ["remove", () => unlinkSync(p.record)] : both[0],
      );
      return;
    }
    const state = await this.#s.loadObject(ino);
    if (!("loaded" in state)) {
      const why = `an inode file no name reaches (inode ${ino}); it ${state.why}`;
      this.#s.problem("orphan", recRel, why, "moved to q/", ...both);
      return;
    }
    const rec = state.loaded.rec;
    const holds = isDir(rec)
      ? (files.entries > 0 ? `${files.entries} entries` : "")
      : isRegular(rec)
      ? (rec.size > 0 ? `${rec.size} bytes` : "")
      : isSymlink(rec)
      ? "a symlink target"
      : "";
    const what = `${typeName(rec)} (inode ${ino}) that no name reaches`;
    if (!holds) {
      const steps: [Phase, () => unknown][] = [["remove", () => this.#s.rm(recRel)]];
      if (files.folder) steps.push(["remove", () => this.#s.rm(dirRel)]);
      this.#s.problem("orphan", recRel, `an empty ${what}`, "removed", ...steps);
      return;
    }
    const name = enc.encode(`#${ino}`);
    const lf = this.#s.opts.repair ? this.#lostAndFound() : null;
    const info: Info = {
      ino,
      rec,
      loaded: state.loaded,
      place: this.#s.records.objectPlace(ino),
      path: `/lost+found/#${ino}`,
      names: [],
    };
    const fix = `reconnected as /lost+found/#${ino}`;
    if (lf === null && this.#s.opts.repair) {
      this.#s.problem("orphan", recRel, `a ${what}, holding ${holds}`, "moved to q/", ...both);
      return;
    }
    if (lf) {
      const folder = this.#s.records.paths(lf.ino).entries;
      info.names.push({ dir: lf.ino, name, file: this.#s.keys.entryName(lf.ino, name) });
      const type = rec.mode & S_IFMT;
      this.#s.problem("orphan", recRel, `a ${what}, holding ${holds}`, fix, [
        "link",
        () => this.#s.dirs.put(lf.ino, folder, name, { ino, type }),
      ]);
    } else {
      // Check only: walk it all the same, so that what it holds is checked (and not reported
      // as more orphans), but count no name for it.
      info.orphan = true;
      info.path = `(orphan ${recRel})`;
      this.#s.problem("orphan", recRel, `a ${what}, holding ${holds}`, fix);
    }
    this.#s.add(info);
    if (!isDir(rec)) await this.#s.content(info);
  }

  #sameFile(a: string, b: string): boolean {
    try {
      const x = lstatSync(a), y = lstatSync(b);
      return x.ino === y.ino && x.dev === y.dev;
    } catch {
      return false;
    }
  }

  #unidentified(obj: string, files: ObjectFiles): void {
    const p = objectPaths(this.#s.root, obj);
    const recRel = this.#s.rel(p.record);
    const dirRel = this.#s.rel(p.entries);
    this.#s.tick();
    if (files.entries === 0 && files.folder) {
      const steps: [Phase, () => unknown][] = [["remove", () => this.#s.rm(dirRel)]];
      if (files.record) steps.push(["remove", () => this.#s.rm(recRel)]);
      const what = files.record
        ? "a directory no name reaches, with no entries"
        : "an empty entry folder without its directory's record";
      this.#s.problem("orphan", files.record ? recRel : dirRel, what, "removed", ...steps);
      return;
    }
    const steps: [Phase, () => unknown][] = [];
    if (files.record) steps.push(["remove", () => this.#s.q(recRel)]);
    if (files.folder) steps.push(["remove", () => this.#s.q(dirRel)]);
    const what = files.record
      ? (files.folder ? `a directory with ${files.entries} entries` : "an inode file")
      : `an entry folder with ${files.entries} entries and no record`;
    this.#s.problem(
      "orphan",
      files.record ? recRel : dirRel,
      `${what} that no name reaches; nothing readable names its inode number, ` +
        "so it cannot be decrypted",
      "moved to q/",
      ...steps,
    );
  }

  /** The /lost+found directory: the existing one, or one planned now; null if impossible. */
  #lostAndFound(): Info | null {
    if (this.#lostFound !== undefined) return this.#lostFound;
    const root = this.#s.inodes.get(ROOT_INO);
    if (!root) return this.#lostFound = null;
    const file = this.#s.keys.entryName(ROOT_INO, LOST_FOUND);
    for (const info of this.#s.inodes.values()) {
      if (info.names.some((n) => n.dir === ROOT_INO && n.file === file)) {
        return this.#lostFound = isDir(info.rec) ? info : null;
      }
    }
    if (kindOf(`${this.#s.records.paths(ROOT_INO).entries}/${file}`) !== "missing") {
      return this.#lostFound = null; // something is there that the walk set aside
    }
    const ino = randomIno();
    const now = BigInt(Date.now()) * 1_000_000n;
    const rec = newRecord(ino, S_IFDIR | 0o700, root.rec, now, randomBytes(16));
    rec.parent = ROOT_INO;
    rec.nlink = 2;
    const info: Info = {
      ino,
      rec,
      place: this.#s.records.objectPlace(ino),
      path: "/lost+found",
      names: [{ dir: ROOT_INO, name: LOST_FOUND, file }],
      fresh: true,
    };
    const folder = this.#s.records.paths(ino).entries;
    const rootFolder = this.#s.records.paths(ROOT_INO).entries;
    this.#s.act("mkdir", () => mkdirSync(folder, { recursive: true, mode: 0o700 }));
    this.#s.act(
      "link",
      () => this.#s.dirs.put(ROOT_INO, rootFolder, LOST_FOUND, { ino, type: S_IFDIR }),
    );
    this.#s.notes.push("created /lost+found");
    this.#s.inodes.set(ino, info);
    this.#s.handled.add(this.#s.keys.objectName(ino));
    return this.#lostFound = info;
  }
}
