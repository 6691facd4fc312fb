/**
 * What one fsck pass keeps while it walks a data dir: the inodes reached, the object names
 * accounted for, the problems found and the repairs planned for them, and the steps the walk
 * and the orphan search share (loading a record, planning a rebuilt one, checking content).
 * Nothing here changes the disk: repairs are planned as actions, run by `Checker.applyRepairs`.
 * @module
 */
import { mkdirSync } from "node:fs";
import { randomBytes } from "../crypto/random.ts";
import { DirStore } from "../store/dir_store.ts";
import { type InodeRecord, isDir, isRegular, isSymlink, newRecord } from "../store/inode_record.ts";
import type { KeyFileHeader } from "../store/keyfile.ts";
import type { StoreKeys } from "../store/keys.ts";
import {
  DamagedObjectError,
  type LoadedRecord,
  type RecordPlace,
  RecordStore,
} from "../store/record_store.ts";
import { ROOT_INO } from "../store/posix.ts";
import type { CheckStats, Problem, ProblemKind } from "./problems.ts";
import { type Phase, quarantine, removePath } from "./repair.ts";
import { checkContent, type ContentCheck } from "./content.ts";
import { type Inventory, kindOf } from "./scan.ts";

/** Chunk numbers listed in one problem line at most. */
const LIST_MAX = 8;

/** One name pointing at an inode. */
export interface NameRef {
  dir: bigint;
  name: Uint8Array;
  file: string;
}

/** An inode the walk reached (or will create). */
export interface Info {
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

/** A planned repair step and the problems it fixes. */
export interface Action {
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

/** A fresh random inode number (never the root's). */
export function randomIno(): bigint {
  for (;;) {
    const v = new DataView(randomBytes(8).buffer).getBigUint64(0, true);
    if (v > ROOT_INO) return v;
  }
}

/** What kind of inode `r` is, in words. */
export function typeName(r: InodeRecord): string {
  if (isDir(r)) return "directory";
  if (isRegular(r)) return "file";
  if (isSymlink(r)) return "symlink";
  return "special file";
}

function listed(chunks: number[]): string {
  const head = chunks.slice(0, LIST_MAX).join(", ");
  return chunks.length > LIST_MAX ? `${head} and ${chunks.length - LIST_MAX} more` : head;
}

/** The reason of a damage report, without the path it starts with. */
export function reasonOf(e: DamagedObjectError): string {
  const prefix = `damaged object ${e.path}: `;
  return e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
}

/** The state of one check, shared by the walk, the orphan search and the counts. */
export class CheckState {
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
  readonly root: string;
  readonly keys: StoreKeys;
  readonly records: RecordStore;
  readonly dirs: DirStore;
  readonly chunkSize: number;
  readonly paired: boolean;
  readonly opts: CheckOptions;
  readonly actions: Action[] = [];
  readonly inodes = new Map<bigint, Info>();
  /** Object names accounted for (reached, or dealt with by a problem's repair). */
  readonly handled = new Set<string>();
  /** Every inode number seen anywhere: the only way to identify an orphan's inode file. */
  readonly candidates = new Set<bigint>();
  /** Directories reached whose entries are still to be walked. */
  readonly queue: Info[] = [];
  inv: Inventory = { objects: new Map(), debris: [], strays: [], total: 0, quarantined: 0 };
  /** Rebuilt records: the problem each one's creation fixes. */
  readonly freshProblems = new Map<bigint, Problem>();

  constructor(root: string, keys: StoreKeys, header: KeyFileHeader, opts: CheckOptions) {
    this.root = root;
    this.keys = keys;
    this.records = new RecordStore(root, keys);
    this.dirs = new DirStore(keys, this.records);
    this.chunkSize = header.chunkSize;
    this.paired = header.version >= 3;
    this.opts = opts;
  }

  /** One more object examined (progress). */
  tick(): void {
    this.stats.objects++;
    this.opts.onProgress?.(this.stats.objects, Math.max(this.inv.total, this.stats.objects));
  }

  /** `path` relative to the data dir. */
  rel(path: string): string {
    return path.startsWith(`${this.root}/`) ? path.slice(this.root.length + 1) : path;
  }

  /** Removes `rel` (a repair step). */
  rm(rel: string): void {
    removePath(`${this.root}/${rel}`);
  }

  /** Moves `rel` to the quarantine folder q/ (a repair step). */
  q(rel: string): void {
    quarantine(this.root, rel);
  }

  /** Records a problem; `steps` are the repairs that fix it (none: not repairable). */
  problem(
    kind: ProblemKind,
    where: string,
    detail: string,
    fix: string | undefined,
    ...steps: [Phase, () => unknown][]
  ): Problem {
    const p: Problem = { kind, where, detail, fix };
    this.problems.push(p);
    for (const [phase, run] of steps) this.actions.push({ phase, run, problems: [p] });
    return p;
  }

  /** Plans a repair step fixing `problems`. */
  act(phase: Phase, run: () => unknown, problems: Problem[] = []): void {
    this.actions.push({ phase, run, problems });
  }

  #count(r: InodeRecord): void {
    if (isDir(r)) this.stats.directories++;
    else if (isRegular(r)) this.stats.files++;
    else if (isSymlink(r)) this.stats.symlinks++;
    else this.stats.others++;
  }

  /** An inode reached: counted, and a directory queued for its entries. */
  add(info: Info): void {
    this.inodes.set(info.ino, info);
    this.#count(info.rec);
    if (isDir(info.rec)) {
      this.candidates.add(info.rec.parent);
      this.queue.push(info);
    }
  }

  /** The record of inode `ino` in its object place, or why there is none. */
  async loadObject(
    ino: bigint,
  ): Promise<{ loaded: LoadedRecord } | { why: string; exists: boolean; blank: boolean }> {
    const path = this.records.paths(ino).record;
    const kind = kindOf(path);
    if (kind === "missing") return { why: "is missing", exists: false, blank: true };
    if (kind !== "file") return { why: "is not a plain file", exists: true, blank: false };
    try {
      // The file exists: no record means it was never written (empty, zeroed, or no slot).
      const loaded = await this.records.load(this.records.objectPlace(ino));
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
  rebuild(
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
    const place = this.records.objectPlace(ino);
    const rel = this.rel(place.path);
    if (oldExists) this.act("remove", () => this.q(rel), [problem]);
    const folder = this.records.paths(ino).entries;
    if (kindOf(folder) === "missing") {
      this.act("mkdir", () => mkdirSync(folder, { recursive: true, mode: 0o700 }), [problem]);
    }
    this.add({ ino, rec, place, path, names, fresh: true });
    // The record itself is written with the other records, once its counts are known.
    this.freshProblems.set(ino, problem);
  }

  /** Every chunk below the size of a regular file must open or be a hole. */
  async content(info: Info): Promise<void> {
    const r = info.rec;
    if (!isRegular(r) || !info.loaded) return;
    const rel = this.rel(info.place.path);
    let c: ContentCheck;
    try {
      c = await checkContent(
        this.keys,
        {
          chunkSize: this.chunkSize,
          nonceLength: this.keys.aead.nonceLength,
          paired: this.paired,
        },
        info.place.path,
        r,
        info.loaded.slotSize,
      );
    } catch (e) {
      if (!(e instanceof DamagedObjectError)) throw e;
      this.problem("damaged", info.path, `${rel}: ${reasonOf(e)}`, undefined);
      return;
    }
    this.stats.chunks += c.good;
    if (c.bad.length) {
      this.problem(
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
      this.problem(
        "missing-chunk",
        info.path,
        `${c.missing.length} of ${c.count} chunks below its size are neither stored nor holes ` +
          `(chunk ${listed(c.missing)} of ${rel}): reading there gives EIO`,
        undefined,
      );
    }
  }
}
