/**
 * Dormant entries: what an evicted inode that lived in an entry file (a non-directory with one
 * name) looked like, kept compactly so that the next listing or lookup of its name needs no read
 * of the entry file. A live inode costs a few KiB of memory; its dormant form (the record's
 * plaintext encoding and the name, as two strings) a few hundred bytes, so the memory ceiling
 * covers several times as many names. A `ls -lR` of a tree larger than the live-inode budget
 * otherwise reads every evicted entry file again, from disk after the page cache let it go.
 *
 * Only a clean inode whose newest record is written and synced, with no save pass holding a
 * snapshot of it, is stashed (InodeTable evicts nothing else), and nothing changes an entry file
 * of this mount without making its inode live first (lookup, unlink, rename and link all adopt
 * the entry): a dormant entry therefore always equals its file. Adopting it removes it. The
 * entries are bounded by their bytes (the budget's share, src/util/memory_budget.ts).
 * @module
 */
import type { StoredEntry } from "../store/dir_store.ts";
import { decodeRecord, encodeRecord } from "../store/format/record.ts";
import type { Inode } from "./inode.ts";
import { S_IFMT } from "./types.ts";

interface Dormant {
  parent: bigint;
  /** The record's plaintext encoding, one char per byte (a string costs far less than a view). */
  rec: string;
  /** The entry's name, one char per byte. */
  name: string;
  slot: 0 | 1;
  slotSize: number;
}

// Records kept are at most MAX_RECORD bytes and names 255: one call's arguments hold them.
function toChars(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

function fromChars(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** What an entry costs besides its strings: its object, the map's slot, the parent's bigint. */
const ENTRY_OVERHEAD = 400;
/** A record larger than this (many extended attributes, a long symlink) is read again instead. */
const MAX_RECORD = 2048;

/** Entry file name -> compact record of an evicted inode; bounded by `limitBytes()`. */
export class DormantEntries {
  readonly #byFile = new Map<string, Dormant>();
  #bytes = 0;

  constructor(private readonly limitBytes: () => number) {}

  /** Number of dormant entries (for tests). */
  get size(): number {
    return this.#byFile.size;
  }

  /**
   * Keeps the evicted `node` (clean: its record on disk is the newest written) dormant, if it
   * lives in an entry file. The oldest entries go first when full.
   */
  stash(node: Inode): void {
    const loc = node.loc;
    if (!loc) return;
    this.drop(loc.file);
    const encoded = encodeRecord({ ...node.rec, seq: BigInt(node.durability.writtenSeq) });
    if (encoded.length > MAX_RECORD) return;
    const cost = costOf(encoded.length, loc.name.length);
    const limit = this.limitBytes();
    if (cost > limit) return;
    // Insertion order: the oldest go first.
    for (const k of this.#byFile.keys()) {
      if (this.#bytes + cost <= limit) break;
      this.drop(k);
    }
    this.#byFile.set(loc.file, {
      parent: loc.parent,
      rec: toChars(encoded),
      name: toChars(loc.name),
      slot: node.durability.slot,
      slotSize: node.slotSize,
    });
    this.#bytes += cost;
  }

  /** The entry of entry file `file` of `parent`, as its file would read; null if not dormant. */
  get(parent: bigint, file: string): StoredEntry | null {
    const d = this.#byFile.get(file);
    if (!d) return null;
    if (d.parent !== parent) {
      this.drop(file);
      return null;
    }
    let rec;
    try {
      rec = decodeRecord(fromChars(d.rec));
    } catch {
      this.drop(file); // cannot happen (we encoded it); the file is read instead
      return null;
    }
    const name = fromChars(d.name);
    return {
      ino: rec.ino,
      type: rec.mode & S_IFMT,
      name,
      file,
      inline: { rec, slot: d.slot, slotSize: d.slotSize, name },
    };
  }

  /** Entry file `file` is live again (or gone): forget its dormant form. */
  drop(file: string): void {
    const d = this.#byFile.get(file);
    if (!d) return;
    this.#byFile.delete(file);
    this.#bytes -= costOf(d.rec.length, d.name.length);
  }

  /** Forgets everything (the data dir closes). */
  clear(): void {
    this.#byFile.clear();
    this.#bytes = 0;
  }
}

function costOf(recordBytes: number, nameBytes: number): number {
  return recordBytes + nameBytes + ENTRY_OVERHEAD;
}
