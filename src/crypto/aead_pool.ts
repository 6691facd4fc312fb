/**
 * Chunk encryption off the main thread. The native ChaCha20-Poly1305 of `node:crypto` is
 * synchronous: run on the JS thread it would stall the FUSE loop for every chunk, and use one
 * core of two. Batches of chunks go to a small pool of workers instead; tiny batches (a 4 KiB
 * random write) stay inline with the low-latency backend, where a thread hop would cost more
 * than the cipher. Workers use the bulk backend (WebCrypto for AES-GCM, with every chunk of a
 * batch in flight at once). `RENCFS_CRYPTO_WORKERS` overrides the pool size (0: all inline).
 */
import { type CipherName, smallAead } from "./aead.ts";
import type { WorkerReply, WorkerRequest } from "./aead_worker.ts";

/** Below this many bytes in a batch (or for a single chunk), crypto runs inline: a random 4 KiB
 * read or write touches one chunk, and a thread hop would cost more than its cipher call. */
const INLINE_BYTES = 48 * 1024;

/** One chunk to seal or open. */
export interface ChunkJob {
  nonce: Uint8Array;
  /** Plaintext (seal) or ciphertext || tag (open). */
  input: Uint8Array;
  ad: Uint8Array;
}

/** Seals and opens batches of chunks under raw per-file keys. */
export class AeadPool {
  readonly cipher: CipherName;
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, (r: WorkerReply) => void>();
  readonly #size: number;
  #next = 0;
  #id = 0;

  constructor(
    cipher: CipherName,
    // One core of the machine stays with the JS thread (FUSE loop, I/O); measured on 2 cores:
    // one worker beat two (message overhead) and inline crypto (which stalls the loop).
    workers = Number(
      Deno.env.get("RENCFS_CRYPTO_WORKERS") ??
        Math.max(1, (navigator.hardwareConcurrency ?? 2) - 1),
    ),
  ) {
    this.cipher = cipher;
    this.#size = workers;
  }

  #worker(): Worker {
    if (this.#workers.length < this.#size) {
      const w = new Worker(new URL("./aead_worker.ts", import.meta.url).href, { type: "module" });
      w.onmessage = (ev: MessageEvent<WorkerReply>) => {
        const done = this.#pending.get(ev.data.id);
        this.#pending.delete(ev.data.id);
        done?.(ev.data);
      };
      this.#workers.push(w);
      return w;
    }
    return this.#workers[this.#next++ % this.#workers.length];
  }

  async #run(op: "seal" | "open", key: Uint8Array, jobs: ChunkJob[]) {
    let bytes = 0;
    for (const j of jobs) bytes += j.input.length;
    if (this.#size === 0 || bytes < INLINE_BYTES || jobs.length === 1) {
      const a = smallAead(this.cipher);
      const k = await a.importKey(key);
      return await Promise.all(
        jobs.map((j) =>
          op === "seal" ? a.seal(k, j.nonce, j.input, j.ad) : a.open(k, j.nonce, j.input, j.ad)
        ),
      );
    }
    // Split across the workers so one large batch uses every core.
    const groups = this.partition(jobs.length).map(([a, b]) => jobs.slice(a, b));
    const owner = new Map<ArrayBufferLike, number>();
    const shared = new Set<ArrayBufferLike>();
    groups.forEach((g, gi) =>
      g.forEach((j) => {
        const o = owner.get(j.input.buffer);
        if (o === undefined) owner.set(j.input.buffer, gi);
        else if (o !== gi) shared.add(j.input.buffer);
      })
    );
    const results = await Promise.all(groups.map((g) => this.#send(op, key, g, shared)));
    return results.flat();
  }

  /**
   * How a batch of `count` jobs is split across workers: `[start, end)` index ranges. Callers
   * that give each range its own buffer let every buffer move to its worker without a copy.
   */
  partition(count: number): [number, number][] {
    const parts = Math.max(1, Math.min(this.#size, count));
    const per = Math.ceil(count / parts);
    const out: [number, number][] = [];
    for (let a = 0; a < count; a += per) out.push([a, Math.min(count, a + per)]);
    return out;
  }

  async #send(
    op: "seal" | "open",
    key: Uint8Array,
    jobs: ChunkJob[],
    shared: Set<ArrayBufferLike>,
  ) {
    const id = this.#id++;
    const req: WorkerRequest = {
      id,
      op,
      cipher: this.cipher,
      key: key.slice(),
      nonces: jobs.map((j) => j.nonce),
      inputs: jobs.map((j) => j.input),
      ads: jobs.map((j) => j.ad),
    };
    // Buffers that belong to this batch alone move to the worker (no copy); a buffer shared
    // with another batch (subarrays of one read) is copied by structured clone instead.
    const transfer = [...new Set(jobs.map((j) => j.input.buffer))]
      .filter((b): b is ArrayBuffer => b instanceof ArrayBuffer && !shared.has(b));
    const reply = await new Promise<WorkerReply>((resolve) => {
      this.#pending.set(id, resolve);
      this.#worker().postMessage(req, { transfer });
    });
    if (reply.error) throw new Error(`crypto worker: ${reply.error}`);
    return reply.outputs;
  }

  /**
   * Seals each job's plaintext; returns ciphertext || tag per job. The inputs' buffers may be
   * detached (moved to a worker): pass buffers nobody else uses.
   */
  async seal(key: Uint8Array, jobs: ChunkJob[]): Promise<Uint8Array[]> {
    return (await this.#run("seal", key, jobs)) as Uint8Array[];
  }

  /** Opens each job's ciphertext; null where authentication fails. Inputs may be detached. */
  open(key: Uint8Array, jobs: ChunkJob[]): Promise<(Uint8Array | null)[]> {
    return this.#run("open", key, jobs);
  }

  /** Stops the workers. */
  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers.length = 0;
    for (const done of this.#pending.values()) done({ id: -1, outputs: [], error: "pool closed" });
    this.#pending.clear();
  }
}
