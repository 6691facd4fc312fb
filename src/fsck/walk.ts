/**
 * The walk of an fsck pass: from the root through every directory's entry files, loading each
 * inode the way the mount would, and planning the repair of each bad entry (debris, strays,
 * damaged or misnamed entries, dangling pointers, a second name of a directory, wrong types).
 * @module
 */
import { mkdirSync, readdirSync } from "node:fs";
import { OBJECT_NAME, TMP_MARK } from "../store/format/paths.ts";
import type { StoredEntry } from "../store/dir_store.ts";
import { isDir } from "../store/inode_record.ts";
import type { DamagedObjectError } from "../store/record_store.ts";
import { ROOT_INO, S_IFDIR, S_IFMT } from "../store/posix.ts";
import { type CheckState, type Info, type NameRef, reasonOf } from "./check_state.ts";
import { joinPath } from "./problems.ts";
import type { Phase } from "./repair.ts";
import { kindOf, type ObjectFiles } from "./scan.ts";

/** Walks the tree of a data dir into a check's state. */
export class TreeWalk {
  readonly #s: CheckState;

  constructor(state: CheckState) {
    this.#s = state;
  }

  /** Walks every directory queued so far (and those they lead to). */
  async drain(): Promise<void> {
    while (this.#s.queue.length) await this.#walkDir(this.#s.queue.shift()!);
  }

  /** Reaches the root directory (or plans its rebuilt record). */
  async walkRoot(): Promise<void> {
    const p = this.#s.records.paths(ROOT_INO);
    this.#s.handled.add(this.#s.keys.objectName(ROOT_INO));
    this.#s.tick();
    const owner = { uid: Deno.uid() ?? 0, gid: Deno.gid() ?? 0 };
    const state = await this.#s.loadObject(ROOT_INO);
    if ("loaded" in state) {
      const info: Info = {
        ino: ROOT_INO,
        rec: state.loaded.rec,
        loaded: state.loaded,
        place: this.#s.records.objectPlace(ROOT_INO),
        path: "/",
        names: [],
      };
      if (!isDir(info.rec)) {
        this.#s.problem("damaged", "/", "the root's record is not a directory's", undefined);
        return;
      }
      this.#s.add(info);
      return;
    }
    const p0 = this.#s.problem(
      "damaged",
      "/",
      `the root directory's record ${this.#s.rel(p.record)} ${state.why}`,
      "rebuilt the root's record (mode 0755, owned by the user running fsck)",
    );
    this.#s.rebuild(ROOT_INO, ROOT_INO, "/", [], S_IFDIR | 0o755, owner, state.exists, p0);
  }

  async #walkDir(d: Info): Promise<void> {
    const folder = this.#s.records.paths(d.ino).entries;
    const kind = kindOf(folder);
    if (kind !== "dir") {
      const rel = this.#s.rel(folder);
      const steps: [Phase, () => unknown][] = [];
      if (kind !== "missing") steps.push(["remove", () => this.#s.q(rel)]);
      steps.push(["mkdir", () => mkdirSync(folder, { recursive: true, mode: 0o700 })]);
      this.#s.problem(
        "damaged",
        d.path,
        `the directory's entry folder ${rel} is ${kind === "missing" ? "missing" : "not a folder"}`,
        "made an empty entry folder",
        ...steps,
      );
      return;
    }
    for (const file of readdirSync(folder).sort()) await this.#entry(d, folder, file);
  }

  async #entry(d: Info, folder: string, file: string): Promise<void> {
    this.#s.tick();
    const path = `${folder}/${file}`;
    const rel = this.#s.rel(path);
    const inDir = `in ${d.path}`;
    if (file.includes(TMP_MARK)) {
      const why = `temporary file of an interrupted write (${inDir})`;
      this.#s.problem("debris", rel, why, "removed", ["remove", () => this.#s.rm(rel)]);
      return;
    }
    const toQ: [Phase, () => unknown] = ["remove", () => this.#s.q(rel)];
    if (!OBJECT_NAME.test(file)) {
      this.#s.problem("stray", rel, `not an entry file name (${inDir})`, "moved to q/", toQ);
      return;
    }
    if (kindOf(path) !== "file") {
      this.#s.problem("damaged", rel, `entry is not a plain file (${inDir})`, "moved to q/", toQ);
      return;
    }
    let damage: DamagedObjectError | undefined;
    const [entry] = await this.#s.dirs.read(d.ino, folder, [file], (e) => damage = e);
    if (damage) {
      const why = `entry ${inDir} does not open: ${reasonOf(damage)}`;
      this.#s.problem("damaged", rel, why, "moved to q/ (the name is gone)", toQ);
      return;
    }
    if (!entry) {
      const why = `empty entry ${inDir}: a creation cut short (a power cut)`;
      this.#s.problem("dangling-entry", rel, why, "removed", ["remove", () => this.#s.rm(rel)]);
      return;
    }
    const where = joinPath(d.path, entry.name);
    if (this.#s.keys.entryName(d.ino, entry.name) !== file) {
      const why = `the name inside does not hash to its entry file ${rel}`;
      this.#s.problem("misnamed-entry", where, why, "moved to q/", toQ);
      return;
    }
    const ref: NameRef = { dir: d.ino, name: entry.name, file };
    this.#s.candidates.add(entry.ino);
    if (entry.inline) await this.#inline(d, folder, ref, entry, where);
    else await this.#pointer(d, folder, ref, entry, where);
  }

  async #inline(d: Info, folder: string, ref: NameRef, e: StoredEntry, where: string) {
    const rel = this.#s.rel(`${folder}/${ref.file}`);
    const known = this.#s.inodes.get(e.ino);
    if (known) {
      const why = `its inode ${e.ino} lives at ${known.path} as well`;
      this.#s.problem("damaged", where, why, "moved to q/", ["remove", () => this.#s.q(rel)]);
      return;
    }
    const info: Info = {
      ino: e.ino,
      rec: e.inline!.rec,
      loaded: e.inline,
      place: this.#s.records.entryPlace(d.ino, folder, ref.file),
      path: where,
      names: [ref],
    };
    this.#s.add(info);
    await this.#s.content(info);
  }

  async #pointer(d: Info, folder: string, ref: NameRef, e: StoredEntry, where: string) {
    const entryRel = this.#s.rel(`${folder}/${ref.file}`);
    const dropName: [Phase, () => unknown] = ["remove", () => this.#s.rm(entryRel)];
    const known = this.#s.inodes.get(e.ino);
    if (known) {
      if (isDir(known.rec)) {
        this.#secondDirName(d, ref, known, where, dropName);
        return;
      }
      if (known.place.ino === undefined) {
        const why = `points at inode ${e.ino}, which lives in the entry file of ${known.path}`;
        this.#s.problem("damaged", where, why, "removed this name", dropName);
        return;
      }
      known.names.push(ref);
      this.#checkType(d, folder, ref, e, known, where);
      return;
    }
    const obj = this.#s.keys.objectName(e.ino);
    const p = this.#s.records.paths(e.ino);
    this.#s.handled.add(obj);
    const files: ObjectFiles = this.#s.inv.objects.get(obj) ??
      { record: false, folder: false, entries: 0 };
    this.#s.tick();
    const state = await this.#s.loadObject(e.ino);
    if ("loaded" in state) {
      const info: Info = {
        ino: e.ino,
        rec: state.loaded.rec,
        loaded: state.loaded,
        place: this.#s.records.objectPlace(e.ino),
        path: where,
        names: [ref],
      };
      this.#s.add(info);
      this.#checkType(d, folder, ref, e, info, where);
      if (!isDir(info.rec)) await this.#s.content(info);
      return;
    }
    const recRel = this.#s.rel(p.record);
    const dirRel = this.#s.rel(p.entries);
    if (e.type === S_IFDIR && (files.entries > 0 || !state.blank)) {
      // The entries in its folder are intact: keep the directory and its name.
      const what = files.entries === 1 ? "1 entry" : `${files.entries} entries`;
      const problem = this.#s.problem(
        "damaged",
        where,
        `the directory's record ${recRel} ${state.why}; its folder holds ${what}`,
        "rebuilt its record (mode 0700, owner of its parent); the old one moved to q/",
      );
      const owner = { uid: d.rec.uid, gid: d.rec.gid };
      this.#s.rebuild(e.ino, d.ino, where, [ref], S_IFDIR | 0o700, owner, state.exists, problem);
      return;
    }
    if (state.blank) {
      const steps: [Phase, () => unknown][] = [dropName];
      if (state.exists) steps.push(["remove", () => this.#s.rm(recRel)]);
      if (files.folder) steps.push(["remove", () => this.#s.rm(dirRel)]);
      this.#s.problem(
        "dangling-entry",
        where,
        `points at ${recRel}, which ${state.why} (a creation cut short)`,
        "removed the entry",
        ...steps,
      );
      return;
    }
    this.#s.problem(
      "damaged",
      where,
      `its inode file ${recRel} ${state.why}`,
      "moved the inode file to q/ and removed the name",
      ["remove", () => this.#s.q(recRel)],
      dropName,
    );
  }

  // A directory has one name. Two are left by a rename to another directory cut short (the new
  // name written, the old one not yet removed): keep the one in the directory that the
  // directory's record names as its parent, else the first found.
  #secondDirName(
    d: Info,
    ref: NameRef,
    known: Info,
    where: string,
    dropNew: [Phase, () => unknown],
  ) {
    const old = known.names[0];
    if (!old || known.ino === ROOT_INO || known.rec.parent !== d.ino || old.dir === d.ino) {
      const why = `a second name of directory ${known.path}`;
      this.#s.problem("extra-dir-name", where, why, "removed this name", dropNew);
      return;
    }
    const oldRel = this.#s.rel(`${this.#s.records.paths(old.dir).entries}/${old.file}`);
    this.#s.problem(
      "extra-dir-name",
      known.path,
      `a second name of directory ${where}, whose record names ${d.path} as its parent`,
      "removed this name",
      ["remove", () => this.#s.rm(oldRel)],
    );
    known.names[0] = ref;
    known.path = where;
  }

  // A pointer's type bits must be its inode's: the kernel is told the type from the entry.
  #checkType(d: Info, folder: string, ref: NameRef, e: StoredEntry, info: Info, where: string) {
    const type = info.rec.mode & S_IFMT;
    if (e.type === type) return;
    this.#s.problem(
      "entry-type",
      where,
      `the entry says type 0o${e.type.toString(8)}, its record 0o${type.toString(8)}`,
      "rewrote the entry with the record's type",
      ["link", () => this.#s.dirs.put(d.ino, folder, ref.name, { ino: info.ino, type })],
    );
  }
}
