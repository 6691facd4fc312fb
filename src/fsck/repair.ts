/**
 * The file operations of `fsck --repair`, kept apart from the checks that decide on them.
 * Debris is deleted; objects that fail authentication are moved to `q/`, out of the tree (the
 * mount never reads it), so that nothing is deleted that a later tool might still recover.
 */
import { lstatSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { QUARANTINE_DIR } from "../store/format/paths.ts";

/** When each repair runs: removals first, then new folders, new names, and records last. */
export type Phase = "remove" | "mkdir" | "link" | "records";

/** The order of {@link Phase}s. */
export const PHASES: readonly Phase[] = ["remove", "mkdir", "link", "records"];

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return false;
    throw e;
  }
}

/** Deletes the file or folder at `path` (a symlink itself, never its target); gone is fine. */
export function removePath(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

/**
 * Moves `path` (relative `rel` inside data dir `root`) into `q/`, named after where it was.
 * Gone already: nothing to do. Returns where it went.
 */
export function quarantine(root: string, rel: string): string | null {
  const from = `${root}/${rel}`;
  if (!exists(from)) return null;
  const q = `${root}/${QUARANTINE_DIR}`;
  // A symlink planted as `q` would have objects moved wherever it points.
  if (exists(q) && !lstatSync(q).isDirectory()) throw new Error(`${q} is not a real directory`);
  mkdirSync(q, { recursive: true, mode: 0o700 });
  const base = rel.replaceAll("/", "_");
  let to = `${QUARANTINE_DIR}/${base}`;
  for (let k = 1; exists(`${root}/${to}`); k++) to = `${QUARANTINE_DIR}/${base}.${k}`;
  renameSync(from, `${root}/${to}`);
  return to;
}
