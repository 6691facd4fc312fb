/**
 * The crash tests' journal: the states a workload (crash_workload.ts) claims for paths, the lines
 * it appends, and the walk that reads a tree back into the same states (crash_verify.ts
 * compares the two).
 */
import { createHash } from "node:crypto";

/**
 * A path's state in the journal: absent, directory, or file with length, SHA-256 (hex) and, in
 * the journal, the workload's number of the file (which renames keep).
 */
export type PathState = "a" | "d" | { len: number; sha: string; id?: number };
/** A durability claim: a state, or "f" for a file whose content is not claimed. */
export type ClaimState = PathState | "f";
/** Result of walking one path: its state, or the error that reading it gave. */
export type WalkState = PathState | { other: string } | { err: string };

/** One journal line. */
export type JournalLine =
  | {
    t: "op";
    n: number;
    d: string;
    /** State of each path the operation changes, once done. */
    e: Record<string, PathState>;
    /** States a path passes through on the way (an operation of several system calls). */
    i?: Record<string, PathState>;
  }
  | { t: "sync"; n: number; d: string; c: Record<string, ClaimState> }
  | { t: "err"; d: string }
  | { t: "end" };

/** SHA-256 of `bytes`, hex. */
export function sha(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Walks `root`: relative path -> state, or the error met there. */
export function walk(root: string): Record<string, WalkState> {
  const out: Record<string, WalkState> = {};
  const visit = (rel: string): void => {
    const abs = rel === "" ? root : `${root}/${rel}`;
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(abs);
    } catch (e) {
      out[rel] = { err: `stat: ${e}` };
      return;
    }
    if (info.isDirectory) {
      if (rel !== "") out[rel] = "d";
      let names: string[];
      try {
        names = [...Deno.readDirSync(abs)].map((e) => e.name).sort();
      } catch (e) {
        out[rel] = { err: `readdir: ${e}` };
        return;
      }
      for (const name of names) visit(rel === "" ? name : `${rel}/${name}`);
    } else if (info.isFile) {
      try {
        const bytes = Deno.readFileSync(abs);
        out[rel] = bytes.length === info.size
          ? { len: bytes.length, sha: sha(bytes) }
          : { err: `read ${bytes.length} bytes, stat says ${info.size}` };
      } catch (e) {
        out[rel] = { err: `read: ${e}` };
      }
    } else {
      out[rel] = { other: `mode ${info.mode?.toString(8)}` };
    }
  };
  visit("");
  return out;
}
