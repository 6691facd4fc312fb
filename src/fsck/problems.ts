/**
 * What fsck finds and how it reports it: one kind per sort of damage, one line per problem,
 * a summary at the end. Pure data and text: nothing here touches the data dir.
 */

/** The sorts of problems fsck tells apart (the summary counts them by kind). */
export type ProblemKind =
  /** Temporary files of interrupted writes, trash leftovers, `rencfs.conf.tmp-*`. */
  | "debris"
  /** Something in `o/` that no rencfs ever writes there (wrong name, wrong type, wrong shard). */
  | "stray"
  /** A record or entry that does not open: damaged, tampered, truncated, not a plain file. */
  | "damaged"
  /** Chunks of a file that fail authentication or are cut short: that part of the file is lost. */
  | "damaged-chunk"
  /** Chunks below the file's size that are neither stored nor listed as holes. */
  | "missing-chunk"
  /** A pointer entry whose inode file is missing, empty or was never written. */
  | "dangling-entry"
  /** The name inside an entry does not hash to the entry file's name. */
  | "misnamed-entry"
  /** A pointer entry's file type differs from its inode's record. */
  | "entry-type"
  /** An inode's link count differs from the number of names pointing to it. */
  | "nlink"
  /** A directory's subdirectory or entry count differs from what its folder holds. */
  | "dir-counts"
  /** A directory's parent (for `..`) is not the directory that holds its name. */
  | "dir-parent"
  /** A directory reached by more than one name (or the root reached by a name). */
  | "extra-dir-name"
  /** An inode file that no name reaches. */
  | "orphan"
  /** The `.m` twin left by a hard link cut short, of an inode that lives in its entry file. */
  | "twin";

/** One problem found. */
export interface Problem {
  /** What sort of problem. */
  kind: ProblemKind;
  /** The plaintext path when known (`/a/b`), else the object's path inside the data dir. */
  where: string;
  /** What is wrong, in a few words. */
  detail: string;
  /**
   * What `--repair` does about it, in a few words ("removed the entry"); absent when it cannot
   * be repaired (the data is lost).
   */
  fix?: string;
  /** Set by a repair run: whether the fix was applied. */
  repaired?: boolean;
  /** Set by a repair run when the fix failed. */
  repairError?: string;
}

/** Counts of what one check looked at. */
export interface CheckStats {
  /** Files and folders of the data dir examined (inode files, entry files, debris …). */
  objects: number;
  /** Directories reached (orphans included). */
  directories: number;
  /** Regular files reached. */
  files: number;
  /** Symlinks reached. */
  symlinks: number;
  /** FIFOs, sockets, devices. */
  others: number;
  /** Content chunks opened and authenticated. */
  chunks: number;
  /** Objects already in `q/` from earlier repairs (never read by the mount). */
  quarantined: number;
}

/** The outcome of one fsck run. */
export interface FsckReport {
  /** Whether `--repair` was asked for. */
  repair: boolean;
  /** Every problem found, in the order found; with `repair`, each marked repaired or not. */
  problems: Problem[];
  /** Repairs made that fix no problem of their own (e.g. "created /lost+found"). */
  notes: string[];
  /** With `repair`: problems a check after the repairs still finds (empty: all fixed). */
  remaining: Problem[];
  /** What the (first) check looked at. */
  stats: CheckStats;
  /** Clean: nothing found, or (with `repair`) everything found fixed and re-checked clean. */
  clean: boolean;
}

/** The one line reporting `p`. */
export function formatProblem(p: Problem, repair: boolean): string {
  let line = `${p.kind}: ${p.where}: ${p.detail}`;
  if (repair) {
    if (p.repaired) line += ` -> ${p.fix}`;
    else if (p.repairError) line += ` -> repair failed: ${p.repairError}`;
    else line += " -> not repairable";
  } else if (p.fix) {
    line += ` (--repair: ${p.fix})`;
  }
  return line;
}

/** The closing lines: what was checked, problems by kind, what was repaired. */
export function formatSummary(r: FsckReport): string[] {
  const s = r.stats;
  const lines = [
    `checked ${s.objects} objects: ${s.directories} directories, ${s.files} files, ` +
    `${s.symlinks} symlinks, ${s.others} other inodes, ${s.chunks} chunks`,
  ];
  if (s.quarantined > 0) {
    const what = s.quarantined === 1 ? "object" : "objects";
    lines.push(`q/ holds ${s.quarantined} quarantined ${what} from earlier repairs`);
  }
  if (r.problems.length === 0) {
    lines.push("no problems found");
    return lines;
  }
  const byKind = new Map<ProblemKind, number>();
  for (const p of r.problems) byKind.set(p.kind, (byKind.get(p.kind) ?? 0) + 1);
  const kinds = [...byKind].map(([k, n]) => `${k} ${n}`).join(", ");
  lines.push(`${r.problems.length} problem${r.problems.length === 1 ? "" : "s"} found: ${kinds}`);
  if (!r.repair) {
    const fixable = r.problems.filter((p) => p.fix).length;
    const lost = r.problems.length - fixable;
    lines.push(
      "nothing changed (check only); " +
        (fixable === 0
          ? "--repair cannot fix them"
          : `--repair can fix ${fixable === r.problems.length ? "all" : fixable} of them`) +
        (lost > 0 ? ` (${lost} cannot be fixed: that data is lost)` : ""),
    );
    return lines;
  }
  const fixed = r.problems.filter((p) => p.repaired).length;
  lines.push(`repaired ${fixed} of ${r.problems.length}`);
  for (const n of r.notes) lines.push(`also: ${n}`);
  if (r.remaining.length === 0) lines.push("the data dir is now clean");
  else {
    const n = r.remaining.length;
    lines.push(`${n} problem${n === 1 ? " remains" : "s remain"} after repair`);
  }
  return lines;
}

const dec = new TextDecoder("utf-8", { fatal: false });

/** A name as printable text: UTF-8, with control characters escaped. */
export function showName(name: Uint8Array): string {
  let out = "";
  for (const c of dec.decode(name)) {
    const code = c.charCodeAt(0);
    if (c === "\\") out += "\\\\";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += c;
  }
  return out;
}

/** `parent` joined with `name` as a plaintext path. */
export function joinPath(parent: string, name: Uint8Array): string {
  return `${parent === "/" ? "" : parent}/${showName(name)}`;
}
