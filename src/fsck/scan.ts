/**
 * The inventory of a data dir as it is on disk, before anything is decrypted: which inode
 * files and entry folders exist in `o/`, what is debris, what does not belong. The checker
 * compares it with what the tree reaches; whatever is left over is an orphan.
 */
import { lstatSync, readdirSync } from "node:fs";
import {
  KEY_FILE,
  OBJECT_NAME,
  OBJECTS_DIR,
  QUARANTINE_DIR,
  TMP_MARK,
  TRASH_DIR,
} from "../store/format/paths.ts";
const SHARD_NAME = /^[a-z2-7]{2}$/;

/** One inode's objects in its shard (by keyed object name). */
export interface ObjectFiles {
  /** The inode file `o/<sh>/<name>.m` exists (as a regular file). */
  record: boolean;
  /** The entry folder `o/<sh>/<name>.d` exists (as a real directory). */
  folder: boolean;
  /** Entry files in the folder (temporary debris aside). */
  entries: number;
}

/** Something found that is not part of the tree. `path` is relative to the data dir. */
export interface Leftover {
  path: string;
  why: string;
}

/** What is on disk. */
export interface Inventory {
  /** Keyed object name -> its objects. */
  objects: Map<string, ObjectFiles>;
  /** Temporary files, trash leftovers, interrupted key file writes. */
  debris: Leftover[];
  /** Things in `o/` that rencfs never writes there. */
  strays: Leftover[];
  /** Files and folders counted, for progress. */
  total: number;
  /** Entries in `q/`. */
  quarantined: number;
}

/** What is at `path`, without following a symlink. */
export function kindOf(path: string): "file" | "dir" | "other" | "missing" {
  try {
    const st = lstatSync(path);
    return st.isFile() ? "file" : st.isDirectory() ? "dir" : "other";
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return "missing";
    throw e;
  }
}

function list(path: string): string[] {
  return readdirSync(path).sort();
}

/** Lists the data dir `root` (nothing is opened but folders). */
export function scanDataDir(root: string): Inventory {
  const inv: Inventory = {
    objects: new Map(),
    debris: [],
    strays: [],
    total: 0,
    quarantined: 0,
  };
  for (const name of list(root)) {
    if (name.startsWith(`${KEY_FILE}${TMP_MARK}`)) {
      inv.debris.push({ path: name, why: "left by an interrupted password change" });
      inv.total++;
    }
  }
  const trash = `${root}/${TRASH_DIR}`;
  const trashKind = kindOf(trash);
  if (trashKind === "dir") {
    for (const name of list(trash)) {
      inv.debris.push({ path: `${TRASH_DIR}/${name}`, why: "trash not yet deleted" });
      inv.total++;
    }
  } else if (trashKind !== "missing") {
    inv.strays.push({ path: TRASH_DIR, why: "the trash is not a real directory" });
  }
  const q = `${root}/${QUARANTINE_DIR}`;
  const qKind = kindOf(q);
  if (qKind === "dir") inv.quarantined = list(q).length;
  else if (qKind !== "missing") {
    // Never followed (a symlink would have repairs move objects wherever it points).
    inv.debris.push({ path: QUARANTINE_DIR, why: "the quarantine folder is not a real directory" });
    inv.total++;
  }

  const objects = `${root}/${OBJECTS_DIR}`;
  if (kindOf(objects) !== "dir") return inv; // the root's record is then missing: reported there
  for (const shard of list(objects)) {
    const shardRel = `${OBJECTS_DIR}/${shard}`;
    inv.total++;
    if (shard.includes(TMP_MARK)) {
      inv.debris.push({ path: shardRel, why: "temporary file of an interrupted write" });
      continue;
    }
    if (!SHARD_NAME.test(shard) || kindOf(`${root}/${shardRel}`) !== "dir") {
      inv.strays.push({ path: shardRel, why: "not a shard folder" });
      continue;
    }
    for (const name of list(`${root}/${shardRel}`)) {
      const rel = `${shardRel}/${name}`;
      inv.total++;
      if (name.includes(TMP_MARK)) {
        inv.debris.push({ path: rel, why: "temporary file of an interrupted write" });
        continue;
      }
      const obj = name.slice(0, -2);
      const ext = name.slice(-2);
      const kind = kindOf(`${root}/${rel}`);
      const ok = OBJECT_NAME.test(obj) && obj.startsWith(shard) &&
        ((ext === ".m" && kind === "file") || (ext === ".d" && kind === "dir"));
      if (!ok) {
        inv.strays.push({ path: rel, why: "not an inode file or entry folder of this shard" });
        continue;
      }
      const o = inv.objects.get(obj) ?? { record: false, folder: false, entries: 0 };
      if (ext === ".m") o.record = true;
      else {
        o.folder = true;
        const entries = list(`${root}/${rel}`);
        inv.total += entries.length;
        o.entries = entries.filter((e) => !e.includes(TMP_MARK)).length;
      }
      inv.objects.set(obj, o);
    }
  }
  return inv;
}
