/**
 * Reading, writing and resizing the plaintext of a regular file over its chunks.
 *
 * Invariants, which also make every crash leave a file as it was before or after an operation:
 * - `rec.size` only grows after the chunks it newly covers are stored (or listed as holes), so
 *   no reader ever sees a chunk that is neither stored nor a hole.
 * - Bytes of a stored chunk past `rec.size` are stale and never shown: before the file grows
 *   over them, the chunk is rewritten with zeros there.
 * - Every chunk below `rec.size` is either stored or inside a hole listed in the record.
 */
import { ContentFile } from "../store/content_file.ts";
import { ChunkPairs, type SyncClock } from "../store/chunk_pairs.ts";
import {
  addHole,
  cutHoles,
  excessHoles,
  fillHole,
  holeChunks,
  inHole,
  MAX_HOLES,
} from "../store/holes.ts";
import { contentBase, DamagedObjectError } from "../store/record_store.ts";
import type { StoreKeys } from "../store/keys.ts";
import type { SlotLayout } from "../store/format/chunk_slot.ts";
import { settleFile } from "../store/backing_times.ts";
import { sysClose } from "../../ffi/sysio.ts";
import { fsError } from "./errors.ts";
import { concat } from "../util/codec.ts";
import { MAX_FILE_SIZE } from "../store/backing_limit.ts";
import { Lease } from "../util/lease.ts";
import type { DamageReporter, Inode } from "./inode_table.ts";
import type { QueuedWrite } from "./inode.ts";

// Zeros for holes and the unstored tails of chunks. Pieces are read-only, so one buffer serves
// every read: a fresh one per piece was garbage that a read-back of sparse files piled up
// faster than the collector ran.
let zeros = new Uint8Array(0);
function zeroPiece(bytes: number): Uint8Array {
  if (zeros.length < bytes) zeros = new Uint8Array(Math.max(bytes, 1 << 20));
  return zeros.subarray(0, bytes);
}

/** Chunk-level operations on one data dir's files. */
export class FileData {
  /**
   * Largest file size: writes and truncations past it fail with EFBIG before anything changes.
   * The data dir's opener lowers it to what the backing filesystem takes (backing_limit.ts).
   */
  maxFileSize: number = MAX_FILE_SIZE;

  constructor(
    readonly keys: StoreKeys,
    readonly chunkSize: number,
    /** Checks the folder of the backing file of `node` (once per folder). */
    readonly prepare: (node: Inode) => void,
    /** The backing file of `node` now (it moves when an entry file is renamed). */
    readonly pathOf: (node: Inode) => string,
    readonly onDamaged: DamageReporter,
    readonly writable: boolean,
    /** Two slots per chunk (format 3 on). */
    readonly paired: boolean,
    /** Counts the data dir's syncfs calls (for `paired`: when a written slot is durable). */
    readonly clock: SyncClock,
    /** A shrink left chunk slots to drop (`Durability.trimTo`) once its record is durable. */
    readonly onShrunk: (node: Inode) => void = () => {},
    /** A chunk of the backing file `path` read as its previous version (ContentFile.onOlder). */
    readonly onOlder: (path: string, chunk: number) => void = () => {},
  ) {}

  /** The open content file of `node`, opened on first use. */
  async content(node: Inode): Promise<ContentFile> {
    if (node.content) return node.content;
    if (!node.contentOpening) {
      node.contentOpening = Promise.resolve().then(() =>
        // Path and open in one synchronous step: a rename cannot slip in between.
        this.#attach(node, (path, l, base) =>
          ContentFile.open(
            path,
            this.keys,
            node.ino,
            node.rec.fileId,
            l,
            base,
            this.writable,
            node.pairs,
          ))
      ).finally(() => node.contentOpening = null);
    }
    return await node.contentOpening;
  }

  /**
   * Makes `fd`, the still open inode file that the creation of `node` just wrote (`size` bytes),
   * its content file: the first write then needs no open (see ContentFile.adopt). Where that
   * fails, the descriptor is closed and the first use opens the file as usual.
   */
  adoptContent(node: Inode, fd: number, size: number): void {
    try {
      this.#attach(
        node,
        (path, l, base) =>
          ContentFile.adopt(
            path,
            fd,
            size,
            this.keys,
            node.ino,
            node.rec.fileId,
            l,
            base,
            node.pairs,
          ),
      );
    } catch {
      settleFile(fd);
      sysClose(fd);
    }
  }

  // Makes node's content file with `make` (given its path, layout and first chunk's offset).
  #attach(
    node: Inode,
    make: (path: string, l: SlotLayout, base: number) => ContentFile,
  ): ContentFile {
    this.prepare(node);
    if (this.paired && this.writable) node.pairs ??= new ChunkPairs(this.clock);
    const l = {
      chunkSize: this.chunkSize,
      nonceLength: this.keys.aead.nonceLength,
      paired: this.paired,
    };
    const c = make(this.pathOf(node), l, contentBase(node.slotSize));
    c.onOlder = (i) => this.onOlder(c.path, i);
    node.content = c;
    return c;
  }

  /** Closes the content file of `node` (after its last handle is released). */
  async closeContent(node: Inode): Promise<void> {
    const c = node.content ?? await node.contentOpening?.catch(() => null);
    node.content = null;
    await c?.close();
    node.dropIdleLocks();
  }

  /** 512-byte blocks the stored chunks of `node` stand for. */
  blocks(node: Inode): number {
    const cs = this.chunkSize;
    const stored = Math.ceil(node.rec.size / cs) - holeChunks(node.rec.holes);
    return Math.ceil(Math.min(node.rec.size, stored * cs) / 512);
  }

  #damaged(e: unknown): never {
    if (e instanceof DamagedObjectError) {
      this.onDamaged(e);
      throw fsError("EIO", e.message, { cause: e });
    }
    throw e;
  }

  /**
   * Reads up to `length` bytes at `offset` as consecutive pieces (views of the decrypted
   * chunks, not to be written to), lent until the lease is released: a FUSE reply copies them
   * out once instead of twice. Releasing lets their buffers be reused (optional, once).
   */
  async readPieces(node: Inode, offset: number, length: number): Promise<Lease> {
    // Shared with writes, exclusive of truncations: a shrink drops chunk slots after its record
    // is written, and a read in flight must not find its chunks gone (EIO) or show zeros past
    // the new end. It sees the file before or after the truncation.
    const pieces = await node.resizeLock.shared(() => this.#readPieces(node, offset, length));
    return new Lease(pieces, this.#releaseAll);
  }

  async #readPieces(node: Inode, offset: number, length: number): Promise<Uint8Array[]> {
    const size = node.rec.size;
    if (offset >= size || length <= 0) return [];
    const end = Math.min(size, offset + length);
    const cs = this.chunkSize;
    const first = Math.floor(offset / cs);
    const last = Math.floor((end - 1) / cs);
    const ra = node.readAhead;
    const sequential = ra.begin(offset, end, last);
    // Chunks fetched ahead are used; runs of the others are read now, one call per run.
    const parts: Promise<Uint8Array | null>[] = [];
    for (let i = first; i <= last;) {
      const held = ra.take(i);
      if (held) {
        parts.push(held);
        i++;
        continue;
      }
      let run = 1;
      while (i + run <= last && !ra.has(i + run)) run++;
      const got = this.#readChunks(node, i, run, size);
      for (let r = 0; r < run; r++) parts.push(got.then((c) => c[r]));
      i += run;
    }
    if (sequential) this.#readAhead(node, last);
    // A damaged chunk may be a write racing this read, caught half-done; a chunk fetched
    // ahead may have failed or been cut short by a truncation since. Either way: read again,
    // under the chunk locks.
    const settled = await Promise.allSettled(parts);
    const got = settled.map((s) => s.status === "fulfilled" ? s.value : null);
    const failures = settled.flatMap((s) => s.status === "rejected" ? [s.reason] : []);
    const whole = failures.length === 0 &&
      got.every((c, k) => c && c.length >= Math.min(cs, size - (first + k) * cs));
    if (!whole) {
      // The chunks that did arrive go back to their pools: dropped, each one's (shared) buffer
      // would stay out of reach until a full collection, and the pool would make another.
      for (const c of got) if (c) this.keys.chunks.release(c);
      const fatal = failures.find((e) => !(e instanceof DamagedObjectError));
      if (fatal !== undefined) throw fatal;
    }
    const chunks = whole
      ? got as Uint8Array[]
      : await this.#lockedRead(node, first, last).catch((e) => this.#damaged(e));
    // Each piece covers its part of offset..end; a chunk shorter than that (its tail past
    // what was stored) is followed by zeros.
    const pieces: Uint8Array[] = [];
    for (let k = 0; k < chunks.length; k++) {
      const base = (first + k) * cs;
      const from = Math.max(offset, base) - base;
      const to = Math.min(end, base + cs) - base;
      const have = chunks[k].subarray(from, Math.min(to, chunks[k].length));
      pieces.push(have);
      if (have.length < to - from) pieces.push(zeroPiece(to - from - have.length));
    }
    return pieces;
  }

  // Hands a lease's pieces back: their buffers are reused instead of left to the collector.
  readonly #releaseAll = (pieces: readonly Uint8Array[]) => {
    for (const p of pieces) this.keys.chunks.release(p);
  };

  /** Reads up to `length` bytes at `offset`: a copy, the caller's. */
  async read(node: Inode, offset: number, length: number): Promise<Uint8Array> {
    const lease = await this.readPieces(node, offset, length);
    const pieces = lease.views;
    const out = pieces.length === 1 ? pieces[0].slice() : concat(...pieces);
    lease.release();
    return out;
  }

  // Sequential reading: fetch and decrypt the chunks after `last` in the background, in
  // batches of about 1 MiB so that the first of them is ready soon.
  #readAhead(node: Inode, last: number): void {
    const cs = this.chunkSize;
    const size = node.rec.size;
    const plan = node.readAhead.plan(last, cs, Math.ceil(size / cs) - 1);
    if (!plan) return;
    node.content?.prefetch(plan[0], plan[1] - plan[0] + 1);
    const batch = Math.max(1, Math.floor((1 << 20) / cs));
    for (let a = plan[0]; a <= plan[1]; a += batch) {
      const count = Math.min(batch, plan[1] - a + 1);
      const all = this.#readChunks(node, a, count, size);
      const parts = Array.from(
        { length: count },
        (_, k) => all.then((c) => c[k], () => null), // a failure is retried by the real read
      );
      node.readAhead.add(a, parts, cs, this.#release);
    }
  }

  readonly #release = (chunk: Uint8Array) => this.keys.chunks.release(chunk);

  #lockedRead(node: Inode, first: number, last: number): Promise<Uint8Array[]> {
    const idx = Array.from({ length: last - first + 1 }, (_, k) => first + k);
    return node.chunkLocks.runAll(
      idx,
      () => this.#readChunks(node, first, idx.length, node.rec.size),
    );
  }

  // Plaintext of chunks first..first+count-1 as the file shows them: holes and the part past
  // `size` are zeros (possibly shorter than a chunk: missing tail bytes are zeros too).
  async #readChunks(
    node: Inode,
    first: number,
    count: number,
    size: number,
  ): Promise<Uint8Array[]> {
    const cs = this.chunkSize;
    const holes = node.rec.holes;
    const out: Uint8Array[] = new Array(count).fill(new Uint8Array(0));
    // Read runs of stored chunks in one call each.
    let k = 0;
    while (k < count) {
      if (inHole(holes, first + k) || (first + k) * cs >= size) {
        k++;
        continue;
      }
      let run = 1;
      while (k + run < count && !inHole(holes, first + k + run)) run++;
      const content = await this.content(node);
      const got = await content.read(first + k, run);
      for (let r = 0; r < run; r++) {
        const i = first + k + r;
        const pt = got[r];
        if (!pt) {
          throw new DamagedObjectError(content.path, `chunk ${i} is missing`);
        }
        const visible = Math.min(cs, size - i * cs);
        out[k + r] = pt.length > visible ? pt.subarray(0, visible) : pt;
      }
      k += run;
    }
    return out;
  }

  // Buffers from writeBuffer(): a write of one that covers whole chunks hands it to the chunk
  // worker as it is, instead of copying it into a new image.
  readonly #takeable = new WeakSet<Uint8Array>();

  /**
   * A buffer for `bytes` of write data that {@link write} may take over (detach) instead of
   * copying, when the write starts on a chunk boundary and needs no old bytes.
   */
  writeBuffer(bytes: number): Uint8Array {
    const b = this.keys.chunks.image(bytes, false);
    this.#takeable.add(b);
    return b;
  }

  /** Writes `data` at `offset`; extends the file as needed. */
  async write(node: Inode, offset: number, data: Uint8Array): Promise<void> {
    if (data.length === 0) return;
    const end = offset + data.length;
    if (end > this.maxFileSize) throw fsError("EFBIG");
    node.dropReadAhead();
    try {
      await node.resizeLock.shared(async () => {
        if (end <= node.rec.size && await this.#writeInPlace(node, offset, data)) {
          // Filling holes inside the file splits their ranges too: the record must keep fitting
          // its slot (taken after the chunk locks: the extend lock comes first in the order).
          if (node.rec.holes.length > MAX_HOLES) {
            await node.extendLock.run(() => this.#limitHoles(node));
          }
          return;
        }
        await this.#writeExtending(node, offset, data);
      });
    } catch (e) {
      this.#damaged(e);
    } finally {
      // Fetches that started while this write was in progress may hold old bytes.
      node.dropReadAhead();
      // A write buffer that was copied rather than taken is free again.
      if (this.#takeable.delete(data)) this.keys.chunks.recycle(data);
    }
  }

  // A write inside the file: chunk locks only, so writers of other ranges run in parallel.
  // Returns false if a truncation got in the way (then the caller takes the extending path).
  async #writeInPlace(node: Inode, offset: number, data: Uint8Array): Promise<boolean> {
    const cs = this.chunkSize;
    const first = Math.floor(offset / cs);
    const last = Math.floor((offset + data.length - 1) / cs);
    if (first === last) {
      return await this.#writeInChunk(node, first, { offset, data, stored: null });
    }
    const idx = Array.from({ length: last - first + 1 }, (_, k) => first + k);
    return await node.chunkLocks.runAll(idx, async () => {
      if (offset + data.length > node.rec.size) return false;
      await this.#storeRange(node, first, last, [{ offset, data }]);
      return true;
    });
  }

  // A write inside one chunk. The kernel's write-back sends a chunk's dirty pages that are not
  // contiguous as separate requests, one after the other: those that queue for the chunk's lock
  // meanwhile are stored together by the first to get it, with one read, seal and write of the
  // chunk instead of one each. Any two of them were in flight together, so storing them in the
  // order they came is as good as one after the other.
  #writeInChunk(node: Inode, chunk: number, w: QueuedWrite): Promise<boolean> {
    const queued = node.queuedWrites;
    let q = queued.get(chunk);
    if (!q) queued.set(chunk, q = []);
    q.push(w);
    return node.chunkLocks.run(chunk, () => {
      if (w.stored) return w.stored; // stored with an earlier write's batch
      const batch = queued.get(chunk)!;
      queued.delete(chunk);
      // A truncation got in the way of those that no longer fit (see #writeInPlace).
      const fit = batch.filter((b) => b.offset + b.data.length <= node.rec.size);
      const done = fit.length ? this.#storeRange(node, chunk, chunk, fit) : Promise.resolve();
      for (const b of batch) b.stored = done.then(() => fit.includes(b));
      return w.stored!;
    });
  }

  // Pads the old last chunk and lists skipped chunks as holes (under the extend lock, briefly),
  // then writes under the chunk locks only, so consecutive appends overlap. A chunk listed as a
  // hole by a later append while this one is still writing it is filled when this one lands.
  async #writeExtending(node: Inode, offset: number, data: Uint8Array): Promise<void> {
    const cs = this.chunkSize;
    const first = Math.floor(offset / cs);
    await node.extendLock.run(() => this.#growTo(node, Math.min(offset, first * cs), first));
    const last = Math.floor((offset + data.length - 1) / cs);
    const idx = Array.from({ length: last - first + 1 }, (_, k) => first + k);
    await node.chunkLocks.runAll(
      idx,
      () => this.#storeRange(node, first, last, [{ offset, data }]),
    );
    if (node.rec.holes.length > MAX_HOLES) {
      await node.extendLock.run(() => this.#limitHoles(node));
    }
  }

  /**
   * Grows the file to `newSize` with zeros (no-op if not larger): the partial last chunk is
   * zero-padded, whole chunks in between become holes. `firstUntouched` bounds the padding:
   * chunks at or past it are about to be written by the caller.
   */
  async #growTo(node: Inode, newSize: number, firstUntouched = Infinity): Promise<void> {
    const cs = this.chunkSize;
    const size = node.rec.size;
    if (newSize <= size) return;
    if (size % cs !== 0) {
      const e = Math.floor(size / cs);
      if (e < firstUntouched) {
        const to = Math.min(newSize, (e + 1) * cs);
        const zeroTo = [{ offset: to, data: new Uint8Array(0) }];
        await node.chunkLocks.run(e, () => this.#storeRange(node, e, e, zeroTo));
      }
    }
    const firstHole = Math.ceil(node.rec.size / cs);
    const lastChunkEnd = Math.ceil(newSize / cs);
    addHole(node.rec.holes, firstHole, Math.min(lastChunkEnd, firstUntouched));
    node.rec.size = Math.max(node.rec.size, newSize);
    node.durability.changed();
  }

  /**
   * Stores the chunks `first..last` with each piece's data placed at its offset, in order (the
   * caller holds their locks); a piece with empty data zero-extends chunk `first` up to its
   * offset. Keeps the invariants.
   */
  async #storeRange(
    node: Inode,
    first: number,
    last: number,
    pieces: readonly { offset: number; data: Uint8Array }[],
  ): Promise<void> {
    const cs = this.chunkSize;
    const size = node.rec.size;
    let end = 0;
    for (const p of pieces) end = Math.max(end, p.offset + p.data.length);
    const count = last - first + 1;
    // Bytes of chunk i after the store: what the file shows of it, or more where data lands.
    const lenOf = (i: number) =>
      Math.max(Math.max(0, Math.min(cs, size - i * cs)), Math.min(end, (i + 1) * cs) - i * cs);
    const lengths = Array.from({ length: count }, (_, k) => lenOf(first + k));
    const content = await this.content(node);
    // Old bytes first (they are read before the image exists: a read may wait on the disk).
    const old: (Uint8Array | null)[] = [];
    for (let i = first; i <= last; i++) {
      const base = i * cs;
      const keep = Math.max(0, Math.min(cs, size - base)); // bytes of this chunk the file shows
      // Old bytes are needed unless one piece covers everything the chunk shows.
      const covered = pieces.some((p) =>
        p.offset <= base && p.offset + p.data.length >= base + keep
      );
      const need = keep > 0 && !covered && !inHole(node.rec.holes, i);
      old.push(need ? (await this.#readChunks(node, i, 1, size))[0].subarray(0, keep) : null);
    }
    let image: Uint8Array;
    const data = pieces[0].data;
    if (
      pieces.length === 1 && this.#takeable.has(data) && pieces[0].offset === first * cs &&
      old.every((o) => o === null) && data.length === (count - 1) * cs + lengths[count - 1]
    ) {
      this.#takeable.delete(data);
      image = data;
    } else {
      image = content.image(count, lengths[count - 1]);
      for (let k = 0; k < count; k++) {
        const o = old[k];
        if (!o) continue;
        image.set(o, k * cs);
        this.keys.chunks.release(o);
      }
      for (const p of pieces) if (p.data.length) image.set(p.data, p.offset - first * cs);
    }
    // Taken before the write, which takes the image over (taken write data included).
    const newEnd = Math.max(size, last * cs + lengths[count - 1]);
    await content.write(first, image, lengths);
    let filled = false;
    for (let i = first; i <= last; i++) filled = fillHole(node.rec.holes, i) || filled;
    if (filled || newEnd > node.rec.size) node.durability.grew();
    if (newEnd > node.rec.size) node.rec.size = newEnd;
    node.durability.changed();
  }

  /**
   * Drops the chunk slots a shrink left behind, down to `keep` (a `trimTo` taken before the
   * caller made the records on disk durable) but never below what the current size needs. The
   * caller makes sure no shrink happened since (see Flusher #trimShrunk): then every record
   * written meanwhile has a size the current one covers.
   */
  async trim(node: Inode, keep: number): Promise<void> {
    await node.resizeLock.exclusive(async () => {
      if (node.durability.deleted || node.durability.gone) return;
      const cut = Math.max(keep, Math.ceil(node.rec.size / this.chunkSize));
      const opened = !node.content;
      const c = await this.content(node);
      try {
        c.truncate(cut);
      } finally {
        // Opened for this alone: closed again unless a handle came meanwhile.
        if (opened && node.opens === 0) await this.closeContent(node);
      }
    });
  }

  // Too many hole ranges would bloat the record: store the smallest ones as zero chunks.
  async #limitHoles(node: Inode): Promise<void> {
    for (const [s, e] of excessHoles(node.rec.holes)) {
      for (let i = s; i < e; i++) {
        await node.chunkLocks.run(i, async () => {
          const content = await this.content(node);
          const len = Math.min(this.chunkSize, node.rec.size - i * this.chunkSize);
          await content.write(i, content.image(1, len), [len]);
          fillHole(node.rec.holes, i);
          node.durability.grew();
        });
      }
    }
  }

  /**
   * Sets the size. Shrinking writes the shrunk record (`persist`) and leaves the chunk slots
   * past the end to {@link trim}, once that record is durable: dropping them at once could reach
   * the disk before the record does (the slot rewrite is an in-place overwrite, which ext4 does
   * not order before the truncation), and after a power cut the old size would cover chunks
   * that are gone (EIO). Stale slots past the size are never read (they are holes when the file
   * grows over them again). Growing zero-pads the last chunk and adds holes, then persists.
   */
  async truncate(node: Inode, newSize: number, persist: () => Promise<void>): Promise<void> {
    if (newSize > this.maxFileSize) throw fsError("EFBIG");
    node.dropReadAhead();
    await node.resizeLock.exclusive(() =>
      node.extendLock.run(async () => {
        try {
          if (newSize >= node.rec.size) {
            await this.#growTo(node, newSize);
            await this.#limitHoles(node);
            await persist();
            return;
          }
          const keepChunks = Math.ceil(newSize / this.chunkSize);
          node.rec.size = newSize;
          cutHoles(node.rec.holes, keepChunks);
          node.durability.changed();
          await persist();
          if (this.writable && node.rec.size === newSize) {
            node.durability.shrank(keepChunks);
            this.onShrunk(node);
          }
        } catch (e) {
          this.#damaged(e);
        }
      })
    );
  }
}
