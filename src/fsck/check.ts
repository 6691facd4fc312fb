/**
 * The checker: walks the tree from the root through the store's own readers (`DirStore`,
 * `RecordStore`, `ContentFile`), so every object is judged exactly as the mount would judge
 * it, then compares what it reached with what is on disk (orphans) and every count with what
 * it counted. Each problem carries the repairs that fix it; nothing is changed until
 * {@link Checker.applyRepairs} runs them.
 */
import { lstatSync, mkdirSync, readdirSync, unlinkSync } from "node:fs";
import { randomBytes } from "../crypto/random.ts";
import { TMP_MARK } from "../store/atomic_file.ts";
import { DirStore, type StoredEntry } from "../store/dir_store.ts";
import { type InodeRecord, isDir, isRegular, isSymlink, newRecord } from "../store/inode_record.ts";
import type { KeyFileHeader } from "../store/keyfile.ts";
import type { StoreKeys } from "../store/keys.ts";
import { objectPaths } from "../store/layout.ts";
import {
  DamagedObjectError,
  type LoadedRecord,
  type RecordPlace,
  RecordStore,
} from "../store/record_store.ts";
import { ROOT_INO, S_IFDIR, S_IFMT } from "../store/posix.ts";
import { type CheckStats, joinPath, type Problem, type ProblemKind } from "./problems.ts";
import { type Phase, PHASES, quarantine, removePath } from "./repair.ts";
import { checkContent, type ContentCheck } from "./content.ts";
import { childCounts, compareCounts } from "./counts.ts";
import { type Inventory, kindOf, OBJECT_NAME, type ObjectFiles, scanDataDir } from "./scan.ts";

const enc = new TextEncoder();
const LOST_FOUND = enc.encode("lost+found");
/** Chunk numbers listed in one problem line at most. */
const LIST_MAX = 8;

/** One name pointing at an inode. */
interface NameRef {
  dir: bigint;
  name: Uint8Array;
  file: string;
}

/** An inode the walk reached (or will create). */
interface Info {
  ino: bigint;
  rec: InodeRecord;
  /** As loaded from disk; absent for a record fsck writes anew. */
  loaded?: LoadedRecord;
  place: RecordPlace;
  path: string;
  names: NameRef[];
  /** The record is to be written anew (rebuilt, or a new /lost+found). */
  fresh?: boolean;
  /** An orphan walked only to account for what it holds (check only): no name counts. */
  orphan?: boolean;
}

interface Action {
  phase: Phase;
  run: () => unknown;
  problems: Problem[];
}

/** Options of one check. */
export interface CheckOptions {
  /** Plan repairs that add names (reconnecting orphans under /lost+found). */
  repair: boolean;
  /** Called as objects are examined: how many so far, of about how many. */
  onProgress?: (done: number, total: number) => void;
}

function randomIno(): bigint {
  for (;;) {
    const v = new DataView(randomBytes(8).buffer).getBigUint64(0, true);
    if (v > ROOT_INO) return v;
  }
}

function typeName(r: InodeRecord): string {
  if (isDir(r)) return "directory";
  if (isRegular(r)) return "file";
  if (isSymlink(r)) return "symlink";
  return "special file";
}

function listed(chunks: number[]): string {
  const head = chunks.slice(0, LIST_MAX).join(", ");
  return chunks.length > LIST_MAX ? `${head} and ${chunks.length - LIST_MAX} more` : head;
}

function reasonOf(e: DamagedObjectError): string {
  const prefix = `damaged object ${e.path}: `;
  return e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
}

/** One pass over a data dir: what is wrong, and (planned) what would fix it. */
export class Checker {
  readonly problems: Problem[] = [];
  /** Repairs that fix no problem of their own (e.g. "created /lost+found"). */
  readonly notes: string[] = [];
  readonly stats: CheckStats = {
    objects: 0,
    directories: 0,
    files: 0,
    symlinks: 0,
    others: 0,
    chunks: 0,
    quarantined: 0,
  };
  readonly #root: string;
  readonly #keys: StoreKeys;
  readonly #records: RecordStore;
  readonly #dirs: DirStore;
  readonly #chunkSize: number;
  readonly #paired: boolean;
  readonly #opts: CheckOptions;
  readonly #actions: Action[] = [];
  readonly #inodes = new Map<bigint, Info>();
  /** Object names accounted for (reached, or dealt with by a problem's repair). */
  readonly #handled = new Set<string>();
  /** Every inode number seen anywhere: the only way to identify an orphan's inode file. */
  readonly #candidates = new Set<bigint>();
  readonly #queue: Info[] = [];
  #inv: Inventory = { objects: new Map(), debris: [], strays: [], total: 0, quarantined: 0 };
  #lostFound: Info | null | undefined;
  /** Rebuilt records: the problem each one's creation fixes. */
  readonly #freshProblems = new Map<bigint, Problem>();

  constructor(root: string, keys: StoreKeys, header: KeyFileHeader, opts: CheckOptions) {
    this.#root = root;
    this.#keys = keys;
    this.#records = new RecordStore(root, keys);
    this.#dirs = new DirStore(keys, this.#records);
    this.#chunkSize = header.chunkSize;
    this.#paired = header.version >= 3;
    this.#opts = opts;
  }

  /** Runs every check; nothing on disk changes. */
  async run(): Promise<this> {
    this.#inv = scanDataDir(this.#root);
    this.stats.quarantined = this.#inv.quarantined;
    for (const d of this.#inv.debris) {
      this.#tick();
      this.#problem("debris", d.path, d.why, "removed", ["remove", () => this.#rm(d.path)]);
    }
    for (const s of this.#inv.strays) {
      this.#problem("stray", s.path, s.why, "moved to q/", ["remove", () => this.#q(s.path)]);
    }
    await this.#walkRoot();
    await this.#drain();
    await this.#orphans();
    this.#counts();
    // Whatever the walk did not open (e.g. the folders of objects that are removed) was
    // still listed and looked at by the scan.
    this.stats.objects = Math.max(this.stats.objects, this.#inv.total);
    this.#opts.onProgress?.(this.stats.objects, this.stats.objects);
    return this;
  }

  /** Runs the planned repairs, phase by phase; marks each problem repaired or failed. */
  async applyRepairs(): Promise<void> {
    for (const phase of PHASES) {
      for (const a of this.#actions) {
        if (a.phase !== phase) continue;
        if (a.problems.some((p) => p.repairError !== undefined)) continue; // an earlier step failed
        try {
          await a.run();
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          for (const p of a.problems) p.repairError = why;
        }
      }
    }
    for (const p of this.problems) {
      p.repaired = p.fix !== undefined && p.repairError === undefined;
    }
  }

  // ---------------------------------------------------------------- bookkeeping

  #tick(): void {
    this.stats.objects++;
    this.#opts.onProgress?.(this.stats.objects, Math.max(this.#inv.total, this.stats.objects));
  }

  #rel(path: string): string {
    return path.startsWith(`${this.#root}/`) ? path.slice(this.#root.length + 1) : path;
  }

  #rm(rel: string): void {
    removePath(`${this.#root}/${rel}`);
  }

  #q(rel: string): void {
    quarantine(this.#root, rel);
  }

  /** Records a problem; `steps` are the repairs that fix it (none: not repairable). */
  #problem(
    kind: ProblemKind,
    where: string,
    detail: string,
    fix: string | undefined,
    ...steps: [Phase, () => unknown][]
  ): Problem {
    const p: Problem = { kind, where, detail, fix };
    this.problems.push(p);
    for (const [phase, run] of steps) this.#actions.push({ phase, run, problems: [p] });
    return p;
  }

  #act(phase: Phase, run: () => unknown, problems: Problem[] = []): void {
    this.#actions.push({ phase, run, problems });
  }

  #count(r: InodeRecord): void {
    if (isDir(r)) this.stats.directories++;
    else if (isRegular(r)) this.stats.files++;
    else if (isSymlink(r)) this.stats.symlinks++;
    else this.stats.others++;
  }

  #add(info: Info): void {
    this.#inodes.set(info.ino, info);
    this.#count(info.rec);
    if (isDir(info.rec)) {
      this.#candidates.add(info.rec.parent);
      this.#queue.push(info);
    }
  }

  async #drain(): Promise<void> {
    while (this.#queue.length) await this.#walkDir(this.#queue.shift()!);
  }

  // ---------------------------------------------------------------- the tree

  async #walkRoot(): Promise<void> {
    const p = this.#records.paths(ROOT_INO);
    this.#handled.add(this.#keys.objectName(ROOT_INO));
    this.#tick();
    const owner = { uid: Deno.uid() ?? 0, gid: Deno.gid() ?? 0 };
    const state = await this.#loadObject(ROOT_INO);
    if ("loaded" in state) {
      const info: Info = {
        ino: ROOT_INO,
        rec: state.loaded.rec,
        loaded: state.loaded,
        place: this.#records.objectPlace(ROOT_INO),
        path: "/",
        names: [],
      };
      if (!isDir(info.rec)) {
        this.#problem("damaged", "/", "the root's record is not a directory's", undefined);
        return;
      }
      this.#add(info);
      return;
    }
    const p0 = this.#problem(
      "damaged",
      "/",
      `the root directory's record ${this.#rel(p.record)} ${state.why}`,
      "rebuilt the root's record (mode 0755, owned by the user running fsck)",
    );
    this.#rebuild(ROOT_INO, ROOT_INO, "/", [], S_IFDIR | 0o755, owner, state.exists, p0);
  }

  /** The record of inode `ino` in its object place, or why there is none. */
  async #loadObject(
    ino: bigint,
  ): Promise<{ loaded: LoadedRecord } | { why: string; exists: boolean; blank: boolean }> {
    const path = this.#records.paths(ino).record;
    const kind = kindOf(path);
    if (kind === "missing") return { why: "is missing", exists: false, blank: true };
    if (kind !== "file") return { why: "is not a plain file", exists: true, blank: false };
    try {
      // The file exists: no record means it was never written (empty, zeroed, or no slot).
      const loaded = await this.#records.load(this.#records.objectPlace(ino));
      if (loaded) return { loaded };
      return { why: "was never written", exists: true, blank: true };
    } catch (e) {
      if (!(e instanceof DamagedObjectError)) throw e;
      return { why: `does not open (${reasonOf(e)})`, exists: true, blank: false };
    }
  }

  /**
   * Plans a new record for directory `ino` whose own record is lost, keeping its name and its
   * entries (they are sealed for the directory's inode number, not for its record).
   */
  #rebuild(
    ino: bigint,
    parent: bigint,
    path: string,
    names: NameRef[],
    mode: number,
    owner: { uid: number; gid: number },
    oldExists: boolean,
    problem: Problem,
  ): void {
    const now = BigInt(Date.now()) * 1_000_000n;
    const rec = newRecord(ino, mode, owner, now, randomBytes(16));
    rec.parent = parent;
    rec.nlink = 2;
    const place = this.#records.objectPlace(ino);
    const rel = this.#rel(place.path);
    if (oldExists) this.#act("remove", () => this.#q(rel), [problem]);
    const folder = this.#records.paths(ino).entries;
    if (kindOf(folder) === "missing") {
      this.#act("mkdir", () => mkdirSync(folder, { recursive: true, mode: 0o700 }), [problem]);
    }
    this.#add({ ino, rec, place, path, names, fresh: true });
    // The record itself is written with the other records, once its counts are known.
    this.#freshProblems.set(ino, problem);
  }

  async #walkDir(d: Info): Promise<void> {
    const folder = this.#records.paths(d.ino).entries;
    const kind = kindOf(folder);
    if (kind !== "dir") {
      const rel = this.#rel(folder);
      const steps: [Phase, () => unknown][] = [];
      if (kind !== "missing") steps.push(["remove", () => this.#q(rel)]);
      steps.push(["mkdir", () => mkdirSync(folder, { recursive: true, mode: 0o700 })]);
      this.#problem(
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
    this.#tick();
    const path = `${folder}/${file}`;
    const rel = this.#rel(path);
    const inDir = `in ${d.path}`;
    if (file.includes(TMP_MARK)) {
      const why = `temporary file of an interrupted write (${inDir})`;
      this.#problem("debris", rel, why, "removed", ["remove", () => this.#rm(rel)]);
      return;
    }
    const toQ: [Phase, () => unknown] = ["remove", () => this.#q(rel)];
    if (!OBJECT_NAME.test(file)) {
      this.#problem("stray", rel, `not an entry file name (${inDir})`, "moved to q/", toQ);
      return;
    }
    if (kindOf(path) !== "file") {
      this.#problem("damaged", rel, `entry is not a plain file (${inDir})`, "moved to q/", toQ);
      return;
    }
    let damage: DamagedObjectError | undefined;
    const [entry] = await this.#dirs.read(d.ino, folder, [file], (e) => damage = e);
    if (damage) {
      const why = `entry ${inDir} does not open: ${reasonOf(damage)}`;
      this.#problem("damaged", rel, why, "moved to q/ (the name is gone)", toQ);
      return;
    }
    if (!entry) {
      const why = `empty entry ${inDir}: a creation cut short (a power cut)`;
      this.#problem("dangling-entry", rel, why, "removed", ["remove", () => this.#rm(rel)]);
      return;
    }
    const where = joinPath(d.path, entry.name);
    if (this.#keys.entryName(d.ino, entry.name) !== file) {
      const why = `the name inside does not hash to its entry file ${rel}`;
      this.#problem("misnamed-entry", where, why, "moved to q/", toQ);
      return;
    }
    const ref: NameRef = { dir: d.ino, name: entry.name, file };
    this.#candidates.add(entry.ino);
    if (entry.inline) await this.#inline(d, folder, ref, entry, where);
    else await this.#pointer(d, folder, ref, entry, where);
  }

  async #inline(d: Info, folder: string, ref: NameRef, e: StoredEntry, where: string) {
    const rel = this.#rel(`${folder}/${ref.file}`);
    const known = this.#inodes.get(e.ino);
    if (known) {
      const why = `its inode ${e.ino} lives at ${known.path} as well`;
      this.#problem("damaged", where, why, "moved to q/", ["remove", () => this.#q(rel)]);
      return;
    }
    const info: Info = {
      ino: e.ino,
      rec: e.inline!.rec,
      loaded: e.inline,
      place: this.#records.entryPlace(d.ino, folder, ref.file),
      path: where,
      names: [ref],
    };
    this.#add(info);
    await this.#content(info);
  }

  async #pointer(d: Info, folder: string, ref: NameRef, e: StoredEntry, where: string) {
    const entryRel = this.#rel(`${folder}/${ref.file}`);
    const dropName: [Phase, () => unknown] = ["remove", () => this.#rm(entryRel)];
    const known = this.#inodes.get(e.ino);
    if (known) {
      if (isDir(known.rec)) {
        this.#secondDirName(d, ref, known, where, dropName);
        return;
      }
      if (known.place.ino === undefined) {
        const why = `points at inode ${e.ino}, which lives in the entry file of ${known.path}`;
        this.#problem("damaged", where, why, "removed this name", dropName);
        return;
      }
      known.names.push(ref);
      this.#checkType(d, folder, ref, e, known, where);
      return;
    }
    const obj = this.#keys.objectName(e.ino);
    const p = this.#records.paths(e.ino);
    this.#handled.add(obj);
    const files: ObjectFiles = this.#inv.objects.get(obj) ??
      { record: false, folder: false, entries: 0 };
    this.#tick();
    const state = await this.#loadObject(e.ino);
    if ("loaded" in state) {
      const info: Info = {
        ino: e.ino,
        rec: state.loaded.rec,
        loaded: state.loaded,
        place: this.#records.objectPlace(e.ino),
        path: where,
        names: [ref],
      };
      this.#add(info);
      this.#checkType(d, folder, ref, e, info, where);
      if (!isDir(info.rec)) await this.#content(info);
      return;
    }
    const recRel = this.#rel(p.record);
    const dirRel = this.#rel(p.entries);
    if (e.type === S_IFDIR && (files.entries > 0 || !state.blank)) {
      // The entries in its folder are intact: keep the directory and its name.
      const what = files.entries === 1 ? "1 entry" : `${files.entries} entries`;
      const problem = this.#problem(
        "damaged",
        where,
        `the directory's record ${recRel} ${state.why}; its folder holds ${what}`,
        "rebuilt its record (mode 0700, owner of its parent); the old one moved to q/",
      );
      const owner = { uid: d.rec.uid, gid: d.rec.gid };
      this.#rebuild(e.ino, d.ino, where, [ref], S_IFDIR | 0o700, owner, state.exists, problem);
      return;
    }
    if (state.blank) {
      const steps: [Phase, () => unknown][] = [dropName];
      if (state.exists) steps.push(["remove", () => this.#rm(recRel)]);
      if (files.folder) steps.push(["remove", () => this.#rm(dirRel)]);
      this.#problem(
        "dangling-entry",
        where,
        `points at ${recRel}, which ${state.why} (a creation cut short)`,
        "removed the entry",
        ...steps,
      );
      return;
    }
    this.#problem(
      "damaged",
      where,
      `its inode file ${recRel} ${state.why}`,
      "moved the inode file to q/ and removed the name",
      ["remove", () => this.#q(recRel)],
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
      this.#problem("extra-dir-name", where, why, "removed this name", dropNew);
      return;
    }
    const oldRel = this.#rel(`${this.#records.paths(old.dir).entries}/${old.file}`);
    this.#problem(
      "extra-dir-name",
      known.path,
      `a second name of directory ${where}, whose record names ${d.path} as its parent`,
      "removed this name",
      ["remove", () => this.#rm(oldRel)],
    );
    known.names[0] = ref;
    known.path = where;
  }

  // A pointer's type bits must be its inode's: the kernel is told the type from the entry.
  #checkType(d: Info, folder: string, ref: NameRef, e: StoredEntry, info: Info, where: string) {
    const type = info.rec.mode & S_IFMT;
    if (e.type === type) return;
    this.#problem(
      "entry-type",
      where,
      `the entry says type 0o${e.type.toString(8)}, its record 0o${type.toString(8)}`,
      "rewrote the entry with the record's type",
      ["link", () => this.#dirs.put(d.ino, folder, ref.name, { ino: info.ino, type })],
    );
  }

  /** Every chunk below the size of a regular file must open or be a hole. */
  async #content(info: Info): Promise<void> {
    const r = info.rec;
    if (!isRegular(r) || !info.loaded) return;
    const rel = this.#rel(info.place.path);
    let c: ContentCheck;
    try {
      c = await checkContent(
        this.#keys,
        {
          chunkSize: this.#chunkSize,
          nonceLength: this.#keys.aead.nonceLength,
          paired: this.#paired,
        },
        info.place.path,
        r,
        info.loaded.slotSize,
      );
    } catch (e) {
      if (!(e instanceof DamagedObjectError)) throw e;
      this.#problem("damaged", info.path, `${rel}: ${reasonOf(e)}`, undefined);
      return;
    }
    this.stats.chunks += c.good;
    if (c.bad.length) {
      this.#problem(
        "damaged-chunk",
        info.path,
        `${c.bad.length} of ${c.count} chunks fail authentication or are cut short ` +
          `(chunk ${listed(c.bad)} of ${rel}): reading there gives EIO, that data is lost`,
        undefined,
      );
    }
    if (c.older.length) {
      // Not a problem: what a power cut during a rewrite leaves (or damage to the newest
      // version); the previous version is sound and is what the mount shows.
      this.notes.push(
        `${info.path}: chunk ${listed(c.older)} read as the previous version (the newest ` +
          `does not open: a rewrite cut short by a crash, or damage)`,
      );
    }
    if (c.missing.length) {
      this.#problem(
        "missing-chunk",
        info.path,
        `${c.missing.length} of ${c.count} chunks below its size are neither stored nor holes ` +
          `(chunk ${listed(c.missing)} of ${rel}): reading there gives EIO`,
        undefined,
      );
    }
  }

  // ---------------------------------------------------------------- orphans

  async #orphans(): Promise<void> {
    // An inode file opens only with its inode number, which only names and directory records
    // hold: an orphan is identified when one of them mentions it. Identifying one may reveal
    // others (its entries), hence the loop.
    for (let found = true; found;) {
      found = false;
      for (const ino of [...this.#candidates]) {
        const obj = this.#keys.objectName(ino);
        if (this.#handled.has(obj)) continue;
        const files = this.#inv.objects.get(obj);
        if (!files || !files.record) continue;
        this.#handled.add(obj);
        found = true;
        this.#tick();
        await this.#identified(ino, files);
      }
      await this.#drain();
    }
    for (const [obj, files] of this.#inv.objects) {
      if (!this.#handled.has(obj)) this.#unidentified(obj, files);
    }
  }

  async #identified(ino: bigint, files: ObjectFiles): Promise<void> {
    const p = this.#records.paths(ino);
    const recRel = this.#rel(p.record);
    const dirRel = this.#rel(p.entries);
    const both: [Phase, () => unknown][] = [["remove", () => this.#q(recRel)]];
    if (files.folder) both.push(["remove", () => this.#q(dirRel)]);
    const inEntry = this.#inodes.get(ino);
    if (inEntry) {
      // Left by a hard link cut short: step (2) linked the entry file to its object place,
      // step (3) never replaced the entry file by a pointer.
      const same = this.#sameFile(p.record, inEntry.place.path);
      this.#problem(
        "twin",
        inEntry.path,
        `${recRel} is ${same ? "a second name" : "an old copy"} of its inode file, ` +
          "left by a hard link cut short; nothing points at it",
        same ? "removed that second name" : "moved the old copy to q/",
        same ? ["remove", () => unlinkSync(p.record)] : both[0],
      );
      return;
    }
    const state = await this.#loadObject(ino);
    if (!("loaded" in state)) {
      const why = `an inode file no name reaches (inode ${ino}); it ${state.why}`;
      this.#problem("orphan", recRel, why, "moved to q/", ...both);
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
      const steps: [Phase, () => unknown][] = [["remove", () => this.#rm(recRel)]];
      if (files.folder) steps.push(["remove", () => this.#rm(dirRel)]);
      this.#problem("orphan", recRel, `an empty ${what}`, "removed", ...steps);
      return;
    }
    const name = enc.encode(`#${ino}`);
    const lf = this.#opts.repair ? this.#lostAndFound() : null;
    const info: Info = {
      ino,
      rec,
      loaded: state.loaded,
      place: this.#records.objectPlace(ino),
      path: `/lost+found/#${ino}`,
      names: [],
    };
    const fix = `reconnected as /lost+found/#${ino}`;
    if (lf === null && this.#opts.repair) {
      this.#problem("orphan", recRel, `a ${what}, holding ${holds}`, "moved to q/", ...both);
      return;
    }
    if (lf) {
      const folder = this.#records.paths(lf.ino).entries;
      info.names.push({ dir: lf.ino, name, file: this.#keys.entryName(lf.ino, name) });
      const type = rec.mode & S_IFMT;
      this.#problem("orphan", recRel, `a ${what}, holding ${holds}`, fix, [
        "link",
        () => this.#dirs.put(lf.ino, folder, name, { ino, type }),
      ]);
    } else {
      // Check only: walk it all the same, so that what it holds is checked (and not reported
      // as more orphans), but count no name for it.
      info.orphan = true;
      info.path = `(orphan ${recRel})`;
      this.#problem("orphan", recRel, `a ${what}, holding ${holds}`, fix);
    }
    this.#add(info);
    if (!isDir(rec)) await this.#content(info);
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
    const p = objectPaths(this.#root, obj);
    const recRel = this.#rel(p.record);
    const dirRel = this.#rel(p.entries);
    this.#tick();
    if (files.entries === 0 && files.folder) {
      const steps: [Phase, () => unknown][] = [["remove", () => this.#rm(dirRel)]];
      if (files.record) steps.push(["remove", () => this.#rm(recRel)]);
      const what = files.record
        ? "a directory no name reaches, with no entries"
        : "an empty entry folder without its directory's record";
      this.#problem("orphan", files.record ? recRel : dirRel, what, "removed", ...steps);
      return;
    }
    const steps: [Phase, () => unknown][] = [];
    if (files.record) steps.push(["remove", () => this.#q(recRel)]);
    if (files.folder) steps.push(["remove", () => this.#q(dirRel)]);
    const what = files.record
      ? (files.folder ? `a directory with ${files.entries} entries` : "an inode file")
      : `an entry folder with ${files.entries} entries and no record`;
    this.#problem(
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
    const root = this.#inodes.get(ROOT_INO);
    if (!root) return this.#lostFound = null;
    const file = this.#keys.entryName(ROOT_INO, LOST_FOUND);
    for (const info of this.#inodes.values()) {
      if (info.names.some((n) => n.dir === ROOT_INO && n.file === file)) {
        return this.#lostFound = isDir(info.rec) ? info : null;
      }
    }
    if (kindOf(`${this.#records.paths(ROOT_INO).entries}/${file}`) !== "missing") {
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
      place: this.#records.objectPlace(ino),
      path: "/lost+found",
      names: [{ dir: ROOT_INO, name: LOST_FOUND, file }],
      fresh: true,
    };
    const folder = this.#records.paths(ino).entries;
    const rootFolder = this.#records.paths(ROOT_INO).entries;
    this.#act("mkdir", () => mkdirSync(folder, { recursive: true, mode: 0o700 }));
    this.#act(
      "link",
      () => this.#dirs.put(ROOT_INO, rootFolder, LOST_FOUND, { ino, type: S_IFDIR }),
    );
    this.notes.push("created /lost+found");
    this.#inodes.set(ino, info);
    this.#handled.add(this.#keys.objectName(ino));
    return this.#lostFound = info;
  }

  // ---------------------------------------------------------------- counts

  /** Link counts, subdirectory and entry counts and parents, against the names counted. */
  #counts(): void {
    const kids = childCounts(this.#inodes.values());
    const pathOf = (ino: bigint) => this.#inodes.get(ino)?.path ?? `inode ${ino}`;
    for (const info of this.#inodes.values()) {
      const { want, found, fix } = compareCounts(info, kids, pathOf);
      if (info.fresh) {
        // A rebuilt or new directory: written once, with the counts just found.
        const problems = [this.#freshProblems.get(info.ino)].filter((p) => p !== undefined);
        this.#act("records", () => this.#create(info, want), problems);
        continue;
      }
      if (found.length === 0 || !info.loaded) continue;
      const problems = found.map((f) => this.#problem(f.kind, info.path, f.detail, fix));
      this.#act("records", () => this.#write(info, want), problems);
    }
  }

  /** Writes a corrected record into the free slot, as the store does for every update. */
  async #write(info: Info, want: InodeRecord): Promise<void> {
    const loaded = info.loaded!;
    want.seq = loaded.rec.seq + 1n;
    const other = loaded.slot === 0 ? 1 : 0;
    await this.#records.update(want, other, loaded.slotSize, info.place, {
      durable: true,
      name: loaded.name,
    });
  }

  async #create(info: Info, want: InodeRecord): Promise<void> {
    await this.#records.create(want, info.place, { durable: true });
  }
}
