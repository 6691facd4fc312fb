/**
 * statfs(2) of a mount: the backing file system's figures, in blocks of the data dir's chunk
 * size.
 * @module
 */
import { statfs } from "node:fs/promises";
import { NAME_MAX, type StatFs } from "./types.ts";

/** The figures of the file system holding `root`, in blocks of `bsize` bytes. */
export async function backingStatFs(root: string, bsize: number): Promise<StatFs> {
  const s = await statfs(root);
  const scale = s.bsize / bsize;
  return {
    bsize,
    frsize: bsize,
    blocks: Math.floor(s.blocks * scale),
    bfree: Math.floor(s.bfree * scale),
    bavail: Math.floor(s.bavail * scale),
    files: s.files,
    ffree: s.ffree,
    namemax: NAME_MAX,
  };
}
