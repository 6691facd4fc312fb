/**
 * Chunk I/O off the JS thread. Sealing a MiB of chunks costs about 1 ms of CPU and writing it
 * to the page cache 0.3–1.3 ms more (Deno's async `node:fs` write runs on the calling thread);
 * both on the thread that also serves FUSE capped streams near 300 MB/s. A batch of consecutive
 * chunk slots goes to a worker instead, which does the crypto and the `pread`/`pwrite` (libc,
 * on its blocking pool), so the JS thread only copies plaintext in and out.
 *
 * Plaintext travels as one image per batch: chunk `k` at `k * chunkSize`. Images move between
 * threads (no copy) and come back for reuse: a fresh MiB costs page faults that take longer
 * than filling it, and images left to the garbage collector piled up to ~100 MiB during a
 * sequential read before it ran (daemon RSS). Write images come back with the reply; a read
 * image comes back once every chunk view of it is released ({@link ChunkIo.release}), which is
 * optional: an image whose views are not all released is left to the garbage collector.
 *
 * Images of up to 1 MiB (every FUSE request) live in shared buffers (`SharedBuffers`) that
 * each worker is given once; a request names its buffer rather than moving it. V8 counts each
 * buffer a thread receives as new memory: moving them made both threads run a full collection
 * every 25-60 ms during a sequential read. Larger images (library callers) move between
 * threads; one that comes back leaves every old view of it detached (`LeasePool`).
 *
 * `RENCFS_CHUNK_WORKERS` sets the number of workers (default 1: on 2 cores one worker beat two,
 * the JS thread needs the other core).
 */
import type { CipherName } from "../crypto/aead.ts";
import type { SlotLayout } from "./format/chunk_slot.ts";
import { BufferPool } from "../util/buffer_pool.ts";
import { LeasePool } from "../util/lease_pool.ts";
import { SharedBuffers } from "../util/shared_buffers.ts";
import { memoryBudgetNow } from "../util/memory_budget.ts";
import { SysError } from "../../ffi/sys_error.ts";

/** Where a batch lives and how it is sealed (shared by reads and writes). */
interface Batch {
  cipher: CipherName;
  /** Raw file key; a copy moves (transferred) with each request and is zeroed by the worker. */
  key: Uint8Array;
  /** A libc descriptor of the content file. */
  fd: number;
  /** Byte position of the content (chunk 0) in the file. */
  base: number;
  layout: SlotLayout;
  /** Associated data with its last `adTail(layout)` bytes left for the index (and generation). */
  ad: Uint8Array;
  /** Index of the first chunk of the batch. */
  first: number;
}

/**
 * Where a request's plaintext is: a buffer moved along with it, or the first `length` bytes of
 * a shared buffer the worker was given before.
 */
export type Plain = Uint8Array | { shared: number; length: number };

/** Seal and write `lengths.length` chunks whose plaintexts are packed in `plain`. */
export interface WriteRequest extends Batch {
  id: number;
  op: "write";
  plain: Plain;
  lengths: number[];
  /** Paired layout: the slot (0 or 1) each chunk goes to, and its generation. */
  slots?: number[];
  gens?: number[];
}

/** Read and open `count` chunks into `plain` (chunk `k` at `k * chunkSize`). */
export interface ReadRequest extends Batch {
  id: number;
  op: "read";
  count: number;
  plain: Plain;
  /** Paired layout: chunks (`k`) whose slot 1 must be read even where the disk shows a hole. */
  slot1?: number[];
}

/** Either request. */
export type ChunkRequest = WriteRequest | ReadRequest;

/** Shares buffer number `id` with a worker, or takes it back (no `buf`). */
export interface ShareMessage {
  op: "share";
  id: number;
  buf?: SharedArrayBuffer;
}

/** Tells a worker to drop its spare buffers and collect garbage (the mount went idle). */
export interface TrimMessage {
  op: "trim";
}

/** A worker's answer. */
export interface ChunkReply {
  id: number;
  /** Write: the plaintext image, returned for reuse. Read: the opened chunks. Not for shared buffers. */
  plain?: Uint8Array;
  /** Read: each chunk's plaintext length, or one of the CHUNK_* codes of `format/chunk_slot.ts`. */
  lengths?: Int32Array;
  /** Read, paired layout: chunks whose newest version did not open (an older one did). */
  older?: number[];
  /** A failed system call (ENOSPC, EIO …): its errno, thrown on this side as a `SysError`. */
  errno?: number;
  /** Anything else that went wrong. */
  error?: string;
}

/**
 * A system call of a worker failed: the one error type of the OS boundary, under the name the
 * callers of chunk I/O know it by.
 */
export { SysError as ChunkIoError } from "../../ffi/sys_error.ts";

/** The opened chunks of one read: `plain` holds chunk `k` at `k * chunkSize`. */
export interface ReadResult {
  plain: Uint8Array;
  lengths: Int32Array;
  /** Paired layout: chunks whose newest version did not open (an older one did). */
  older?: number[];
}

type Pending = { resolve: (r: ChunkReply) => void; bytes: number; worker: number };

/** Bytes per shared buffer: the largest FUSE read or write. */
const SHARED_BYTES = 1 << 20;

/** The workers of one data dir and the plaintext images they return. */
export class ChunkIo {
  readonly #workers: Worker[] = [];
  readonly #load: number[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #size: number;
  readonly #images = new BufferPool(16);
  readonly #shared = new SharedBuffers(
    SHARED_BYTES,
    memoryBudgetNow().sharedImages, // at most 32 MiB (memory_budget.ts)
    (id, buf) => this.#tellWorkers({ op: "share", id, buf }),
    (id) => this.#tellWorkers({ op: "share", id }),
  );
  /** Images of batch reads, lent out chunk by chunk. */
  readonly readImages = new LeasePool(16, this.#shared);
  /** Plaintexts of single chunks opened on the JS thread (`ContentFile`), lent out likewise. */
  readonly chunkImages = new LeasePool(16);
  #id = 0;

  constructor(workers = Number(Deno.env.get("RENCFS_CHUNK_WORKERS") ?? 1)) {
    this.#size = Math.max(1, workers);
  }

  /**
   * A buffer of `bytes` for a write's plaintext image (zeroed unless `zero` is false: the
   * caller fills all of it), reusing the images workers returned. It is handed over by
   * {@link write}.
   */
  image(bytes: number, zero = true): Uint8Array {
    const shared = this.#shared.take(bytes);
    if (!shared) return this.#images.take(bytes, zero);
    if (zero) shared.fill(0);
    return shared;
  }

  /** Takes back an image that was not sent to a worker after all. */
  recycle(plain: Uint8Array): void {
    if (!this.#shared.give(plain)) this.#images.give(plain);
  }

  /** Bytes held by the shared buffers (JS thread's ArrayBuffer memory that is not garbage). */
  get sharedBytes(): number {
    return this.#shared.liveBytes;
  }

  /** Shared buffers that are neither free nor garbage (for tests: 0 once all is handed back). */
  get sharedInUse(): number {
    return this.#shared.inUse;
  }

  /** Seals and writes; `plain` (an {@link image}) is taken over: not to be used afterwards. */
  async write(
    b: Batch,
    plain: Uint8Array,
    lengths: number[],
    targets?: { slots: number[]; gens: number[] },
  ): Promise<void> {
    const reply = await this.#send({
      ...b,
      key: b.key.slice(),
      id: 0,
      op: "write",
      plain,
      lengths,
      ...targets,
    });
    this.recycle(reply.plain ?? plain);
    if (reply.errno !== undefined) throw new SysError(reply.errno, "pwrite");
    if (reply.error !== undefined) throw new Error(`chunk worker: ${reply.error}`);
  }

  /**
   * Reads and opens `count` chunks into an image from {@link readImages}; to have it reused,
   * lend it out (`readImages.lend`) and {@link release} its views.
   */
  async read(b: Batch, count: number, slot1?: number[]): Promise<ReadResult> {
    const image = this.readImages.take(count * b.layout.chunkSize);
    const reply = await this.#send({
      ...b,
      key: b.key.slice(),
      id: 0,
      op: "read",
      count,
      plain: image,
      slot1,
    });
    // A moved image comes back with the reply; a shared one never left.
    const out = reply.plain ?? image;
    if (reply.errno !== undefined || reply.error !== undefined || !reply.lengths) {
      this.readImages.lend(out, 0);
      if (reply.errno !== undefined) throw new SysError(reply.errno, "pread");
      throw new Error(`chunk worker: ${reply.error ?? "no data"}`);
    }
    return { plain: out, lengths: reply.lengths, older: reply.older };
  }

  /**
   * Hands back one chunk view of a read (each chunk once, after its last use) so that its
   * buffer is reused once all of its chunks are back; anything else is ignored.
   */
  release(view: Uint8Array): void {
    if (!this.readImages.release(view)) this.chunkImages.release(view);
  }

  #tellWorkers(m: ShareMessage | TrimMessage): void {
    for (const w of this.#workers) w.postMessage(m);
  }

  // `req.plain` is the image itself: sent as its shared buffer's number, or moved.
  #send(req: ChunkRequest & { plain: Uint8Array }): Promise<ChunkReply> {
    const image = req.plain;
    const shared = this.#shared.idOf(image.buffer);
    const id = req.id = this.#id++;
    // The least loaded worker (bytes in flight), starting one more while all are busy.
    let w = this.#load.indexOf(Math.min(...this.#load));
    if (this.#workers.length < this.#size && (w < 0 || this.#load[w] > 0)) w = this.#spawn();
    const bytes = req.op === "write" ? image.length : req.count * req.layout.chunkSize;
    this.#load[w] += bytes;
    const msg: ChunkRequest = shared === undefined
      ? req
      : { ...req, plain: { shared, length: image.length } };
    const transfer = shared === undefined && image.buffer instanceof ArrayBuffer
      ? [image.buffer]
      : [];
    // The key copy moves rather than being cloned: no copy of it stays behind on this thread
    // (nor in the message's serialized form); the worker zeroes it once the batch is done.
    if (req.key.buffer instanceof ArrayBuffer) transfer.push(req.key.buffer);
    return new Promise<ChunkReply>((resolve) => {
      this.#pending.set(id, { resolve, bytes, worker: w });
      this.#workers[w].postMessage(msg, { transfer });
    });
  }

  #spawn(): number {
    const w = new Worker(new URL("./chunk_io_worker.ts", import.meta.url).href, {
      type: "module",
    });
    w.onmessage = (ev: MessageEvent<ChunkReply>) => {
      const p = this.#pending.get(ev.data.id);
      if (!p) return;
      this.#pending.delete(ev.data.id);
      this.#load[p.worker] -= p.bytes;
      p.resolve(ev.data);
    };
    for (const [id, buf] of this.#shared.entries()) w.postMessage({ op: "share", id, buf });
    this.#workers.push(w);
    this.#load.push(0);
    return this.#workers.length - 1;
  }

  /**
   * Drops the spare images, here and in the workers (those on loan or in flight come back as
   * usual). The caller collects garbage on this thread; the workers do on theirs.
   */
  trim(): void {
    this.#images.clear();
    // A shared buffer's memory goes only once every thread has collected its handle on it.
    for (const id of this.#shared.dropFree()) this.#tellWorkers({ op: "share", id });
    this.#tellWorkers({ op: "trim" });
    this.readImages.clear();
    this.chunkImages.clear();
  }

  /** Stops the workers; requests still in flight fail. */
  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers.length = 0;
    this.#load.length = 0;
    for (const p of this.#pending.values()) p.resolve({ id: -1, error: "chunk workers closed" });
    this.#pending.clear();
    this.trim();
  }
}
