/**
 * Content of a regular file, after the record slots of its inode file (`o/<sh>/<name>.m`):
 * fixed-size chunks, each sealed on its own with a fresh random nonce under the file's own key,
 * at a fixed position so that a read or write at any offset touches only the chunks involved.
 *
 * Chunk `i` starts at `base + i * stride`. Up to format 2 it has one slot (`stride` = slot
 * size), rewritten in place; from format 3 on it has two (a pair), and a rewrite never touches
 * the slot holding the durable version (`chunk_pairs.ts`), so a power cut cannot tear it. The
 * associated data binds the format version, the inode number, the file id, `i` (and the
 * generation), so a chunk moved to another position or file fails to open. A slot whose length
 * field is zero was never written (a sparse region of the backing file); whether that is a
 * legitimate hole is for the inode record to say.
 */
import { constants } from "node:fs";
import { singleChunkAead } from "../crypto/aead.ts";
import {
  errnoName,
  sysAdvise,
  sysClose,
  sysError,
  sysFdatasync,
  sysFstat,
  sysFsync,
  sysFtruncate,
  sysMayHoldData,
  sysPread,
  sysPreadCached,
  sysPunchHole,
} from "../../ffi/sysio.ts";
import { preadAll } from "../../ffi/file_io.ts";
import { BufferPool } from "../util/buffer_pool.ts";
import { settleFile } from "./backing_times.ts";
import { S_IFMT, S_IFREG } from "./posix.ts";
import { SAFE_OPEN, sysOpenObject, writeAllSync } from "./object_io.ts";
import type { KeyHolder, StoreKeys } from "./keys.ts";
import { DamagedObjectError } from "./record_store.ts";
import { ChunkIoError } from "./chunk_io.ts";
import {
  CHUNK_DAMAGED,
  CHUNK_TRUNCATED,
  CHUNK_UNWRITTEN,
  chunkAd,
  chunkAdTemplate,
  contentEnd,
  groupRuns,
  headerBytes,
  plausibleGen,
  type SlotBytes,
  slotBytes,
  slotCandidates,
  slotGen,
  type SlotLayout,
  slotLength,
  slotOffset,
  slotParts,
  slotSize,
  staleInGroup,
  startSlot,
} from "./format/chunk_slot.ts";
import type { ChunkPairs, SlotChoice } from "./chunk_pairs.ts";

export type { SlotLayout } from "./format/chunk_slot.ts";

// One chunk (a random 4 KiB read or write, a small file) is done right here with synchronous
// calls: a round trip to a worker and its I/O thread cost more than the chunk's cipher call
// (unless the bytes must come from the disk: see ColdRange).
// One slot image serves every such call (they never overlap: nothing in them awaits).
let scratch = new Uint8Array(0);
function scratchOf(bytes: number): Uint8Array<ArrayBuffer> {
  if (scratch.length < bytes) scratch = new Uint8Array(bytes);
  return scratch.subarray(0, bytes);
}

// A single-chunk step (#readOne, #target) never waits for the disk on the JS thread, where it
// would hold up every other request (and the disk serves one read at a time): where part of
// what it reads is not in the page cache, it stops with a ColdRange, the caller reads that
// range on a pool thread (#warm) and runs the step again, now served from the cache.
class ColdRange {
  constructor(readonly at: number, readonly bytes: number) {}
}

/** Steps tried before one is left to wait for the disk (a cache under pressure). */
const COLD_TRIES = 4;
/**
 * Writes of several chunks up to this size are sealed on the calling thread: for a small file's
 * write-back the worker's round trip (messages and thread hops each way) costs far more than the
 * sealing (docs/performance.md). Larger writes (streams) still go to the worker.
 */
export const SYNC_WRITE_BYTES = 256 * 1024;
const EAGAIN = 11;
const EINVAL = 22;
const EOPNOTSUPP = 95;

// Buffers of #warm reads: only the page cache keeps their bytes.
const warmBuffers = new BufferPool(4);

/**
 * An open content file. Its key (derived from K_content) lives in locked memory from the first
 * chunk read or written until the file closes or the keys go idle ({@link KeyHolder}); it is
 * derived again on the next use. It stays readable while held: an mprotect pair per chunk costs
 * about as much as sealing a 4 KiB chunk.
 */
export class ContentFile implements KeyHolder {
  readonly #fd: number;
  readonly #keys: StoreKeys;
  #key: Uint8Array | null = null;
  readonly #ino: bigint;
  readonly #fileId: Uint8Array;
  readonly #ad: Uint8Array;
  readonly #l: SlotLayout;
  readonly #slot: number;
  readonly #base: number;
  readonly #pairs: ChunkPairs | null;
  // The backing file's size as far as this file knows (it alone writes it): a pair starting at
  // or past it holds nothing, so a write there needs no look at the disk.
  #eof: number;
  // Worker requests in flight on #fd: it is closed only once they are done, so that a late
  // pwrite can never land in another file that reused the descriptor number.
  #inFlight = 0;
  #idle: (() => void) | null = null;
  // Whether a step may stop at bytes not in the page cache (false once the filesystem turns
  // RWF_NOWAIT down, and for the last try of a step).
  #noWait = true;
  #deferCold = false;
  // The file's times still show the kernel's (a file adopted from its creation): they are set
  // at the first change, or at close.
  #unsettled = false;
  readonly path: string;
  /**
   * Called for a chunk whose newest version did not open while an older one did: a rewrite cut
   * short by a crash, or damage (the older version is what reads return).
   */
  onOlder: ((chunk: number) => void) | null = null;

  private constructor(
    path: string,
    fd: number,
    keys: StoreKeys,
    ino: bigint,
    fileId: Uint8Array,
    l: SlotLayout,
    base: number,
    pairs: ChunkPairs | null,
    eof: number,
  ) {
    this.path = path;
    this.#base = base;
    this.#fd = fd;
    this.#keys = keys;
    this.#ino = ino;
    this.#fileId = fileId.slice();
    this.#l = l;
    this.#slot = slotSize(l);
    this.#pairs = l.paired ? pairs : null;
    this.#eof = eof;
    // prefix || ino || fileId || index(8) [|| generation(8)], the tail filled per chunk
    this.#ad = chunkAdTemplate(l, ino, fileId);
  }

  /**
   * Opens the content of one inode, whose chunks start at byte `base` of its inode file. A
   * writable paired file needs the inode's `pairs` tracker (kept across opens).
   */
  static open(
    path: string,
    keys: StoreKeys,
    ino: bigint,
    fileId: Uint8Array,
    l: SlotLayout,
    base: number,
    writable: boolean,
    pairs: ChunkPairs | null = null,
  ): ContentFile {
    if (writable && l.paired && !pairs) throw new Error("a writable paired file needs its tracker");
    const fd = sysOpenObject(
      path,
      (writable ? constants.O_RDWR : constants.O_RDONLY) | SAFE_OPEN,
    );
    if (fd < 0) {
      const code = errnoName(fd);
      if (code === "ELOOP") throw new DamagedObjectError(path, "is a symlink, not an object");
      if (code === "ENOENT") throw new DamagedObjectError(path, "inode file is missing");
      throw sysError(fd, "open", path);
    }
    const st = sysFstat(fd);
    if (typeof st === "number" || (st.mode & S_IFMT) !== S_IFREG) {
      sysClose(fd);
      throw new DamagedObjectError(path, "is not a regular file");
    }
    return new ContentFile(path, fd, keys, ino, fileId, l, base, pairs, st.size);
  }

  /**
   * The content of an inode whose file `createInPlace` (atomic_file.ts) just created and left
   * open (`fd`, read-write, `size` bytes): taken over, saving an open and an fstat; its times
   * are set at the first write or at close.
   */
  static adopt(
    path: string,
    fd: number,
    size: number,
    keys: StoreKeys,
    ino: bigint,
    fileId: Uint8Array,
    l: SlotLayout,
    base: number,
    pairs: ChunkPairs | null = null,
  ): ContentFile {
    if (l.paired && !pairs) throw new Error("a writable paired file needs its tracker");
    const c = new ContentFile(path, fd, keys, ino, fileId, l, base, pairs, size);
    c.#unsettled = true;
    return c;
  }

  #settle(): void {
    settleFile(this.#fd);
    this.#unsettled = false;
  }

  // The file's raw key, derived on first use and again after forgetKey.
  #rawKey(): Uint8Array {
    this.#keys.touch();
    if (this.#key === null) {
      this.#key = this.#keys.fileKey(this.#ino, this.#fileId);
      this.#keys.hold(this);
    }
    return this.#key;
  }

  /** Zeroes the file's key (the keys went idle); the next chunk derives it again. */
  forgetKey(): void {
    if (this.#key) this.#keys.releaseFileKey(this.#key);
    this.#key = null;
    this.#keys.release(this);
  }

  #batch(first: number) {
    return {
      cipher: this.#keys.aead.name,
      key: this.#rawKey(),
      fd: this.#fd,
      base: this.#base,
      layout: this.#l,
      ad: this.#ad,
      first,
    };
  }

  async #tracked<T>(what: "pread" | "pwrite", op: () => Promise<T>): Promise<T> {
    this.#inFlight++;
    try {
      return await op();
    } catch (e) {
      if (e instanceof ChunkIoError) throw sysError(-e.errno, what, this.path);
      throw e;
    } finally {
      if (--this.#inFlight === 0) this.#idle?.();
    }
  }

  /**
   * Reads chunks `first .. first+count-1`. Each result is the chunk's plaintext (a view into
   * one buffer per call), or null for a chunk that was never written. Throws DamagedObjectError
   * when a chunk fails to authenticate or is cut short (in a pair: when neither slot opens).
   * Releasing each chunk once after its last use (`keys.chunks.release`) lets the buffer be
   * reused; it is optional.
   */
  async read(first: number, count: number): Promise<(Uint8Array | null)[]> {
    if (count === 1) return [await this.#cached(() => this.#readOne(first))];
    // A batch (a stream) tells the slot tracker nothing: a rewrite reads its chunk alone first
    // (#readOne notes where it is), and a stream would only churn the tracker.
    const slot1 = this.#mustRead1(first, count);
    const { plain, lengths, older } = await this.#tracked(
      "pread",
      () => this.#keys.chunks.read(this.#batch(first), count, slot1),
    );
    const cs = this.#l.chunkSize;
    const out: (Uint8Array | null)[] = new Array(count).fill(null);
    try {
      for (let k = 0; k < count; k++) {
        const len = this.#usable(first + k, lengths[k]);
        if (len !== null) out[k] = plain.subarray(k * cs, k * cs + len);
      }
    } catch (e) {
      this.#keys.chunks.readImages.lend(plain, 0); // nothing handed out: reused at once
      throw e;
    }
    this.#keys.chunks.readImages.lend(plain, out.filter((c) => c !== null).length);
    for (const i of older ?? []) this.onOlder?.(i);
    return out;
  }

  // Chunks (k of a batch) whose slot 1 this mount wrote: read it even where the disk reports a
  // hole (data in the page cache that a filesystem's SEEK_DATA might not report).
  #mustRead1(first: number, count: number): number[] | undefined {
    const pairs = this.#pairs;
    if (!pairs) return undefined;
    const out: number[] = [];
    for (let k = 0; k < count; k++) if (pairs.slotOf(first + k) === 1) out.push(k);
    return out.length ? out : undefined;
  }

  // pread(2) of a single-chunk step: throws a ColdRange for bytes the page cache lacks (see
  // ColdRange) while the step may defer them.
  #pread(buf: Uint8Array<ArrayBuffer>, at: number): number {
    if (!this.#deferCold) return sysPread(this.#fd, buf, at);
    let done = 0;
    while (done < buf.length) {
      const n = sysPreadCached(this.#fd, buf.subarray(done), at + done);
      if (n === -EAGAIN) throw new ColdRange(at + done, buf.length - done);
      if (n === -EOPNOTSUPP || n === -EINVAL) {
        this.#noWait = false; // a filesystem (or kernel) without RWF_NOWAIT: plain reads
        return sysPread(this.#fd, buf, at);
      }
      if (n < 0) return n;
      if (n === 0) break; // the end of the file
      done += n;
    }
    return done;
  }

  // Runs a single-chunk step, reading on a pool thread whatever it found not cached first.
  async #cached<T>(step: () => T): Promise<T> {
    for (let tries = 1;; tries++) {
      this.#deferCold = this.#noWait && tries < COLD_TRIES;
      try {
        return step();
      } catch (e) {
        if (!(e instanceof ColdRange)) throw e;
        await this.#warm(e);
      } finally {
        this.#deferCold = false;
      }
    }
  }

  // Reads a range into the page cache off the JS thread.
  async #warm(r: ColdRange): Promise<void> {
    const buf = warmBuffers.take(r.bytes, false);
    try {
      await this.#tracked("pread", () => preadAll(this.#fd, buf, r.at));
    } finally {
      warmBuffers.give(buf);
    }
  }

  #observed(i: number, slot: 0 | 1 | null, gen: number): void {
    this.#pairs?.observed(i, slot === null ? { slot: 1, gen: 0 } : { slot, gen });
  }

  #at(i: number, slot: number): number {
    return this.#base + slotOffset(this.#l, i, slot);
  }

  // Reads the slot(s) of chunk `i` into the scratch buffer: slot 0 at 0, slot 1 at one slot
  // size when it may hold something (else null).
  #readPair(i: number): { first: SlotBytes; other: SlotBytes | null } {
    const size = this.#slot;
    const span = scratchOf(2 * size);
    const got = this.#pread(span.subarray(0, size), this.#at(i, 0));
    if (got < 0) throw sysError(got, "pread", this.path);
    const first = { span, off: 0, got };
    if (!this.#l.paired) return { first, other: null };
    const at1 = this.#at(i, 1);
    const mustRead = this.#pairs?.slotOf(i) === 1;
    if (!mustRead && (at1 >= this.#eof || !sysMayHoldData(this.#fd, at1, at1 + size))) {
      return { first, other: null };
    }
    const got1 = this.#pread(span.subarray(size, 2 * size), at1);
    if (got1 < 0) throw sysError(got1, "pread", this.path);
    return { first, other: { span, off: size, got: size + got1 } };
  }

  // Chunk `i` from the one slot the tracker knows holds its newest version (one pread instead
  // of two, and no hole probe: what a partial rewrite reads first); null when that slot does
  // not open as that version, and the caller looks at both.
  #readKnown(i: number, c: SlotChoice, plain: Uint8Array): number | null {
    const l = this.#l;
    const span = scratchOf(this.#slot);
    const got = this.#pread(span, this.#at(i, c.slot));
    if (got < 0) throw sysError(got, "pread", this.path);
    const len = slotLength(span, 0, got, l);
    if (len < 0 || slotGen(span, 0) !== c.gen) return null;
    const { nonce, sealed } = slotParts(span, 0, l, len);
    const ok = singleChunkAead(this.#keys.aead.name).openInto(
      this.#rawKey(),
      nonce,
      sealed,
      chunkAd(this.#ad, l, i, c.gen),
      plain,
      0,
    );
    return ok ? len : null;
  }

  #readOne(i: number): Uint8Array | null {
    const images = this.#keys.chunks.chunkImages;
    const plain = images.take(this.#l.chunkSize);
    const known = this.#pairs?.current(i);
    let len: number | null = null;
    let pair: { first: SlotBytes; other: SlotBytes | null };
    try {
      len = known ? this.#readKnown(i, known, plain) : null;
      if (len !== null) {
        images.lend(plain, 1);
        return plain.subarray(0, len);
      }
      pair = this.#readPair(i);
    } catch (e) {
      images.lend(plain, 0); // a ColdRange (tried again) or a failed read
      throw e;
    }
    const found = this.#openSlot(i, pair.first, pair.other, plain);
    if (typeof found === "number") {
      images.lend(plain, 0);
      this.#usable(i, found);
      if (this.#l.paired) this.#observed(i, null, 0);
      return null;
    }
    images.lend(plain, 1);
    if (this.#l.paired) this.#observed(i, found.slot, found.gen);
    if (found.older) this.onOlder?.(i);
    return plain.subarray(0, found.len);
  }

  // Opens chunk `i` from its slot (or pair) into `plain`: where it came from, or the CHUNK_*
  // code of why nothing opened.
  #openSlot(
    i: number,
    first: SlotBytes,
    other: SlotBytes | null,
    plain: Uint8Array,
  ): { slot: 0 | 1; gen: number; len: number; older: boolean } | number {
    const l = this.#l;
    const { tries, truncated } = slotCandidates(first, other, l);
    if (tries.length === 0) return truncated ? CHUNK_TRUNCATED : CHUNK_UNWRITTEN;
    const aead = singleChunkAead(this.#keys.aead.name);
    for (const [n, t] of tries.entries()) {
      const { nonce, sealed } = slotParts(t.span, t.off, l, t.len);
      const ad = chunkAd(this.#ad, l, i, t.gen);
      if (aead.openInto(this.#rawKey(), nonce, sealed, ad, plain, 0)) {
        return { slot: t.slot, gen: t.gen, len: t.len, older: n > 0 || truncated };
      }
    }
    return CHUNK_DAMAGED;
  }

  // A chunk length from a slot: null when never written; throws for a damaged chunk.
  #usable(i: number, len: number): number | null {
    if (len === CHUNK_UNWRITTEN) return null;
    if (len === CHUNK_TRUNCATED) throw this.#damaged(i, "chunk is truncated");
    if (len === CHUNK_DAMAGED) throw this.#damaged(i, "chunk failed authentication");
    return len;
  }

  // Where the next write of chunk `i` goes (paired layout): the tracker's answer, else what
  // the disk shows. Only a slot that cannot hold the chunk's durable version is ever chosen.
  #target(i: number): SlotChoice {
    const known = this.#pairs?.target(i);
    if (known) return known;
    if (this.#at(i, 0) >= this.#eof) return { slot: 0, gen: 1 }; // slot 1 lies further still
    // The headers first: with at most one slot that could hold a version, the other is free.
    const l = this.#l;
    const head = headerBytes(l);
    const span = scratchOf(head);
    const plausible: SlotChoice[] = [];
    for (const slot of [0, 1] as const) {
      const at = this.#at(i, slot);
      if (at >= this.#eof) continue;
      const got = this.#pread(span, at);
      if (got < 0) throw sysError(got, "pread", this.path);
      if (got < head) continue;
      const gen = plausibleGen(span, 0, l);
      if (gen > 0) plausible.push({ slot, gen });
    }
    if (plausible.length === 0) return { slot: 0, gen: 1 };
    if (plausible.length === 1) {
      const t = plausible[0];
      return { slot: t.slot === 0 ? 1 : 0, gen: t.gen + 1 };
    }
    // Both could: only the one that opens counts.
    const pair = this.#readPair(i);
    const plain = this.#keys.chunks.chunkImages.take(l.chunkSize);
    try {
      const found = this.#openSlot(i, pair.first, pair.other, plain);
      const top = Math.max(plausible[0].gen, plausible[1].gen);
      if (typeof found === "number") return { slot: 0, gen: top + 1 };
      return { slot: found.slot === 0 ? 1 : 0, gen: found.gen + 1 };
    } finally {
      this.#keys.chunks.chunkImages.lend(plain, 0);
    }
  }

  // Seals and writes chunk `i` (the first `len` bytes of `plain`) on this thread.
  #writeOne(i: number, plain: Uint8Array, len: number, t: SlotChoice | null): void {
    const l = this.#l;
    const out = scratchOf(slotBytes(l, len));
    const gen = t?.gen ?? 0;
    const nonce = startSlot(out, 0, l, len, gen);
    singleChunkAead(this.#keys.aead.name).sealInto(
      this.#rawKey(),
      nonce,
      plain.subarray(0, len),
      chunkAd(this.#ad, l, i, gen),
      out,
      headerBytes(l) + l.nonceLength,
    );
    const at = this.#at(i, t?.slot ?? 0);
    writeAllSync(this.#fd, out, at, this.path);
    this.#eof = Math.max(this.#eof, at + out.length);
  }

  /**
   * Asks the kernel to start reading chunks `first .. first+count-1` from disk now: the worker's
   * reads of a read-ahead window then find them in the page cache instead of each waiting for
   * the disk in turn.
   */
  prefetch(first: number, count: number): void {
    // Slot 0 of each run: slot 1 is usually a hole, and reading ahead a hole fills the page
    // cache with zeros.
    for (const [a, n] of groupRuns(this.#l, first, count)) {
      sysAdvise(this.#fd, n * this.#slot, this.#at(a, 0));
    }
  }

  #damaged(i: number, why: string): DamagedObjectError {
    return new DamagedObjectError(this.path, `${why} (chunk ${i})`);
  }

  /**
   * A zeroed buffer for the plaintext of `count` consecutive chunks, the last `lastLength`
   * bytes long: chunk `k` goes at `k * chunkSize`. Pass it to {@link write}, which takes it.
   */
  image(count: number, lastLength: number): Uint8Array {
    return this.#keys.chunks.image((count - 1) * this.#l.chunkSize + lastLength);
  }

  /**
   * Seals and writes consecutive chunks starting at `first` (one write call unpaired). `plain`
   * holds chunk `k` at `k * chunkSize` ({@link image}) and is taken over: the caller must not
   * touch it afterwards (several chunks go to a worker, which may detach it; a single chunk is
   * sealed here and its image reused). The caller holds the chunks' locks.
   */
  async write(first: number, plain: Uint8Array, lengths: number[]): Promise<void> {
    const pairs = this.#pairs;
    let targets: SlotChoice[] | null = null;
    for (let cold = 1; pairs && !targets;) {
      // Until no chunk of the run is covered by a running sync (one may start while we wait,
      // or while a ColdRange is read): then the slots, and `begin`, in one synchronous step.
      const wait = this.#busy(pairs, first, lengths.length);
      if (wait) {
        await wait;
        continue;
      }
      this.#deferCold = this.#noWait && cold < COLD_TRIES;
      try {
        targets = lengths.map((_, k) => this.#target(first + k));
      } catch (e) {
        if (!(e instanceof ColdRange)) throw e;
        cold++;
        await this.#warm(e);
      } finally {
        this.#deferCold = false;
      }
    }
    if (pairs && targets) targets.forEach((t, k) => pairs.begin(first + k, t));
    let ok = false;
    try {
      if (lengths.length === 1 || plain.length <= SYNC_WRITE_BYTES) {
        // A few chunks cost less to seal here than the round trip to the worker (a small
        // file's write-back).
        const cs = this.#l.chunkSize;
        try {
          lengths.forEach((len, k) =>
            this.#writeOne(first + k, plain.subarray(k * cs), len, targets?.[k] ?? null)
          );
        } finally {
          this.#keys.chunks.recycle(plain); // write() took the image over
        }
        this.#settle();
      } else {
        await this.#tracked("pwrite", async () => {
          const slots = targets?.map((t) => t.slot);
          const gens = targets?.map((t) => t.gen);
          await this.#keys.chunks.write(
            this.#batch(first),
            plain,
            lengths,
            slots && gens ? { slots, gens } : undefined,
          );
          this.#settle(); // while still in flight: the descriptor cannot be closed yet
        });
        lengths.forEach((len, k) => {
          const end = this.#at(first + k, targets?.[k].slot ?? 0) + slotBytes(this.#l, len);
          if (end > this.#eof) this.#eof = end;
        });
      }
      ok = true;
    } finally {
      if (pairs) {
        for (let k = 0; k < lengths.length; k++) {
          if (ok) pairs.wrote(first + k);
          else pairs.failed(first + k);
        }
      }
      // A failed write may still have made the file longer.
      const st = ok ? 0 : sysFstat(this.#fd);
      if (typeof st !== "number" && st.size > this.#eof) this.#eof = st.size;
    }
  }

  #busy(pairs: ChunkPairs, first: number, count: number): Promise<void> | null {
    for (let k = 0; k < count; k++) {
      const wait = pairs.busy(first + k);
      if (wait) return wait;
    }
    return null;
  }

  /** Drops every chunk from chunk `count` on (the file was shortened). */
  truncate(count: number): void {
    const want = this.#base + contentEnd(this.#l, count);
    const st = sysFstat(this.#fd);
    if (typeof st === "number") throw sysError(st, "fstat", this.path);
    if (st.size > want) {
      const r = sysFtruncate(this.#fd, want);
      if (r < 0) throw sysError(r, "ftruncate", this.path);
      this.#settle();
      this.#eof = want;
    }
    // Slot 0 of the dropped chunks of the last group lies before the slot 1 of the kept ones:
    // freed in place (a filesystem that cannot leaves them stale: never read below the size).
    const stale = staleInGroup(this.#l, count);
    if (stale && this.#base + stale[0] < this.#eof) {
      if (sysPunchHole(this.#fd, this.#base + stale[0], stale[1]) === 0) this.#settle();
    }
    this.#pairs?.dropFrom(count);
  }

  /** Makes written chunks durable. */
  async sync(dataOnly: boolean): Promise<void> {
    const stamp = this.#pairs?.fileSyncStarted() ?? 0;
    let ok = false;
    try {
      if (dataOnly) await sysFdatasync(this.#fd, this.path);
      else await sysFsync(this.#fd, this.path);
      ok = true;
    } finally {
      this.#pairs?.fileSyncEnded(stamp, ok);
    }
  }

  /** Closes the file once the reads and writes in flight are done. */
  async close(): Promise<void> {
    while (this.#inFlight > 0) await new Promise<void>((r) => this.#idle = r);
    this.#idle = null;
    this.forgetKey();
    if (this.#unsettled) this.#settle();
    sysClose(this.#fd);
  }
}
