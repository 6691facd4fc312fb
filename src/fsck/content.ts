/**
 * Checking a regular file's content: every chunk below its size must open (authenticate for
 * its file and position) or lie in a hole its record lists. Reads through `ContentFile`, the
 * mount's own reader, a batch at a time; a batch that fails is read again chunk by chunk to
 * tell which chunks are lost.
 */
import { ContentFile, type SlotLayout } from "../store/content_file.ts";
import { inHole } from "../store/holes.ts";
import type { InodeRecord } from "../store/inode_record.ts";
import type { StoreKeys } from "../store/keys.ts";
import { DamagedObjectError } from "../store/record_store.ts";
import { contentBase } from "../store/format/inode_file.ts";

/** Chunks read (and authenticated) per request. */
const CHUNK_BATCH = 16;

/** What the chunks of one file are like. */
export interface ContentCheck {
  /** Chunks below the size. */
  count: number;
  /** Chunks that opened. */
  good: number;
  /** Chunks that fail authentication or are cut short. */
  bad: number[];
  /** Chunks neither stored nor in a hole. */
  missing: number[];
  /** Chunks that read as their previous version: the newest does not open (format 3). */
  older: number[];
}

/**
 * Checks the chunks of the regular file `rec` whose inode file is `path` with record slots of
 * `slotSize` bytes. Throws DamagedObjectError when the file cannot be opened at all.
 */
export async function checkContent(
  keys: StoreKeys,
  layout: SlotLayout,
  path: string,
  rec: InodeRecord,
  slotSize: number,
): Promise<ContentCheck> {
  const count = Math.ceil(rec.size / layout.chunkSize);
  const out: ContentCheck = { count, good: 0, bad: [], missing: [], older: [] };
  if (count === 0) return out;
  const cf = ContentFile.open(
    path,
    keys,
    rec.ino,
    rec.fileId,
    layout,
    contentBase(slotSize),
    false,
  );
  const older = new Set<number>();
  cf.onOlder = (i) => older.add(i);
  try {
    for (let first = 0; first < count; first += CHUNK_BATCH) {
      const n = Math.min(CHUNK_BATCH, count - first);
      const got = await readBatch(cf, first, n);
      got.forEach((c, k) => {
        if (c === "bad") out.bad.push(first + k);
        else if (c === null) {
          if (!inHole(rec.holes, first + k)) out.missing.push(first + k);
        } else {
          out.good++;
          keys.chunks.release(c);
        }
      });
    }
  } finally {
    await cf.close();
  }
  out.older = [...older].sort((a, b) => a - b);
  return out;
}

// Chunks `first .. first+n-1`: plaintext, null (never written) or "bad".
async function readBatch(
  cf: ContentFile,
  first: number,
  n: number,
): Promise<(Uint8Array | null | "bad")[]> {
  try {
    return await cf.read(first, n);
  } catch (e) {
    if (!(e instanceof DamagedObjectError)) throw e;
  }
  const got: (Uint8Array | null | "bad")[] = [];
  for (let k = 0; k < n; k++) {
    try {
      got.push((await cf.read(first + k, 1))[0]);
    } catch (e) {
      if (!(e instanceof DamagedObjectError)) throw e;
      got.push("bad");
    }
  }
  return got;
}
