/**
 * The counts a record keeps about the tree, against what fsck counted: a non-directory's link
 * count is the number of names pointing to it; a directory's subdirectory and entry counts are
 * what its folder holds, and its parent is the directory holding its name.
 */
import { cloneRecord, type InodeRecord, isDir } from "../store/inode_record.ts";
import { ROOT_INO } from "../store/posix.ts";

/** An inode with the names the walk kept for it. */
export interface Named {
  ino: bigint;
  rec: InodeRecord;
  /** The directories holding its names. */
  names: readonly { dir: bigint }[];
  /** Walked only to account for what it holds: no name counts. */
  orphan?: boolean;
}

/** What one directory holds: subdirectories and entries. */
export interface Children {
  dirs: number;
  entries: number;
}

/** One count that differs. */
export interface CountFinding {
  kind: "dir-counts" | "dir-parent" | "nlink";
  detail: string;
}

/** What each directory holds, from the names of every inode. */
export function childCounts(nodes: Iterable<Named>): Map<bigint, Children> {
  const kids = new Map<bigint, Children>();
  for (const node of nodes) {
    for (const ref of node.names) {
      const k = kids.get(ref.dir) ?? { dirs: 0, entries: 0 };
      k.entries++;
      if (isDir(node.rec)) k.dirs++;
      kids.set(ref.dir, k);
    }
  }
  return kids;
}

/**
 * The record `node` should have (a copy, counts corrected), what differs, and the fix in a few
 * words. `pathOf` names a directory for messages.
 */
export function compareCounts(
  node: Named,
  kids: Map<bigint, Children>,
  pathOf: (ino: bigint) => string,
): { want: InodeRecord; found: CountFinding[]; fix: string } {
  const r = node.rec;
  const want = cloneRecord(r);
  const found: CountFinding[] = [];
  if (isDir(r)) {
    const k = kids.get(node.ino) ?? { dirs: 0, entries: 0 };
    const counts: string[] = [];
    if (r.subdirs !== k.dirs) counts.push(`${r.subdirs} subdirectories (has ${k.dirs})`);
    if (r.entries !== k.entries) counts.push(`${r.entries} entries (has ${k.entries})`);
    if (counts.length) {
      found.push({ kind: "dir-counts", detail: `its record counts ${counts.join(", ")}` });
    }
    want.subdirs = k.dirs;
    want.entries = k.entries;
    const parent = node.ino === ROOT_INO ? ROOT_INO : node.names[0]?.dir;
    if (parent !== undefined && r.parent !== parent) {
      found.push({
        kind: "dir-parent",
        detail: `its record names parent inode ${r.parent}, but its name is in ${pathOf(parent)}`,
      });
      want.parent = parent;
    }
  } else if (!node.orphan && r.nlink !== node.names.length) {
    const names = node.names.length;
    const point = names === 1 ? "name points" : "names point";
    found.push({
      kind: "nlink",
      detail: `its record counts ${r.nlink} links, ${names} ${point} to it`,
    });
    want.nlink = names;
  }
  return { want, found, fix: `wrote ${fixText(r, want)}` };
}

function fixText(r: InodeRecord, w: InodeRecord): string {
  const parts: string[] = [];
  if (r.nlink !== w.nlink) parts.push(`nlink ${w.nlink}`);
  if (r.subdirs !== w.subdirs) parts.push(`subdirs ${w.subdirs}`);
  if (r.entries !== w.entries) parts.push(`entries ${w.entries}`);
  if (r.parent !== w.parent) parts.push(`parent ${w.parent}`);
  return parts.join(", ");
}
