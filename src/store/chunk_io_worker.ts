/// <reference lib="deno.worker" />
/**
 * Worker side of {@link ./chunk_io.ts}: seals chunks and writes them, or reads chunks and opens
 * them, for one batch of consecutive chunk slots of one content file. The disk calls are libc
 * `pread`/`pwrite` bound `nonblocking` (each runs on a blocking-pool thread), so several batches
 * are in flight at once while this thread does the crypto. The JS thread of the mount only
 * copies plaintext in and out.
 *
 * Messages carry raw per-file keys (zeroed here after use), never passwords.
 */
import { aead, type AeadKey, directAead } from "../crypto/aead.ts";
import { BufferPool } from "../util/buffer_pool.ts";
import type {
  ChunkReply,
  ChunkRequest,
  Plain,
  ReadRequest,
  ShareMessage,
  TrimMessage,
  WriteRequest,
} from "./chunk_io.ts";
import { collectGarbage } from "../util/gc.ts";
import { trimFreedMemory, wipeDeadStack } from "../../ffi/memory.ts";
import { preadAll, pwriteAll } from "../../ffi/file_io.ts";
import { SysError } from "../../ffi/sys_error.ts";
import { sysMayHoldData } from "../../ffi/sysio.ts";
import {
  CHUNK_DAMAGED,
  CHUNK_TRUNCATED,
  CHUNK_UNWRITTEN,
  chunkAd,
  groupRuns,
  headerBytes,
  type SlotBytes,
  slotBytes,
  slotCandidates,
  slotOffset,
  slotParts,
  slotSize,
  startSlot,
} from "./format/chunk_slot.ts";

// Like Promise.all, but rejects only once every call has ended: a buffer or descriptor is
// never handed back while a sibling pread/pwrite may still be using it.
async function allSettled<T>(calls: Promise<T>[]): Promise<T[]> {
  const done = await Promise.allSettled(calls);
  const failed = done.find((d) => d.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return done.map((d) => (d as PromiseFulfilledResult<T>).value);
}

// Slot images are reused (the pwrite or the decryption is done with them before the reply).
const images = new BufferPool(8);

// The shared buffers the JS thread gave this worker, by number.
const shared = new Map<number, SharedArrayBuffer>();

function plainOf(p: Plain): Uint8Array {
  if (p instanceof Uint8Array) return p;
  const buf = shared.get(p.shared);
  if (!buf) throw new Error(`unknown shared buffer ${p.shared}`);
  return new Uint8Array(buf, 0, p.length);
}

async function write(req: WriteRequest): Promise<ChunkReply> {
  const plain = plainOf(req.plain);
  const l = req.layout;
  const count = req.lengths.length;
  const cs = l.chunkSize;
  const size = slotSize(l);
  const head = headerBytes(l) + l.nonceLength;
  // Slot images back to back, all but the last padded to full size, so that a run of chunks
  // whose slots are consecutive on disk goes out in one pwrite.
  const out = images.take((count - 1) * size + slotBytes(l, req.lengths[count - 1]), false);
  const direct = directAead(req.cipher);
  const jobs: Promise<Uint8Array>[] = [];
  for (let k = 0; k < count; k++) {
    const off = k * size;
    const len = req.lengths[k];
    const gen = req.gens?.[k] ?? 0;
    const nonce = startSlot(out, off, l, len, gen);
    const pt = plain.subarray(k * cs, k * cs + len);
    const ad = chunkAd(req.ad, l, req.first + k, gen);
    if (direct) direct.sealInto(req.key, nonce, pt, ad, out, off + head);
    else jobs.push(sealAsync(req, nonce, pt, ad));
  }
  if (!direct) {
    const sealed = await Promise.all(jobs);
    for (let k = 0; k < count; k++) out.set(sealed[k], k * size + head);
  }
  try {
    // Runs of chunks whose slots follow each other on disk: one group, one slot (0 or 1).
    const slotOf = (k: number) => req.slots?.[k] ?? 0;
    const runs: Promise<void>[] = [];
    for (const [a, n] of groupRuns(l, req.first, count)) {
      for (let k = a - req.first; k < a - req.first + n;) {
        let e = k + 1;
        while (e < a - req.first + n && slotOf(e) === slotOf(k)) e++;
        const bytes = out.subarray(k * size, (e - 1) * size + slotBytes(l, req.lengths[e - 1]));
        runs.push(pwriteAll(req.fd, bytes, req.base + slotOffset(l, req.first + k, slotOf(k))));
        k = e;
      }
    }
    await allSettled(runs);
  } finally {
    images.give(out);
  }
  return req.plain instanceof Uint8Array ? { id: req.id, plain: req.plain } : { id: req.id };
}

// AES-256-GCM: WebCrypto, every chunk of the batch in flight at once.
async function sealAsync(
  req: ChunkRequest,
  nonce: Uint8Array,
  pt: Uint8Array,
  ad: Uint8Array,
): Promise<Uint8Array> {
  const a = aead(req.cipher);
  // WebCrypto refuses views of shared memory.
  const own = pt.buffer instanceof SharedArrayBuffer ? pt.slice() : pt;
  return await a.seal(await keyOf(req), nonce, own, ad);
}

async function openAsync(
  req: ChunkRequest,
  nonce: Uint8Array,
  sealed: Uint8Array,
  ad: Uint8Array,
  out: Uint8Array,
  at: number,
): Promise<boolean> {
  const pt = await aead(req.cipher).open(await keyOf(req), nonce, sealed, ad);
  if (pt === null) return false;
  out.set(pt, at);
  return true;
}

// The imported key of a request, imported once per request.
const imported = new WeakMap<ChunkRequest, Promise<AeadKey>>();
function keyOf(req: ChunkRequest): Promise<AeadKey> {
  let k = imported.get(req);
  if (!k) {
    k = aead(req.cipher).importKey(req.key);
    imported.set(req, k);
  }
  return k;
}

async function read(req: ReadRequest): Promise<ChunkReply> {
  const l = req.layout;
  const cs = l.chunkSize;
  const size = slotSize(l);
  const plain = plainOf(req.plain);
  const lengths = new Int32Array(req.count);
  const older: number[] = [];
  const direct = directAead(req.cipher);
  const must = new Set(req.slot1 ?? []);
  const taken: Uint8Array<ArrayBuffer>[] = [];
  const span = async (at: number, n: number): Promise<SlotBytes & { span: Uint8Array }> => {
    const buf = images.take(n * size, false);
    taken.push(buf);
    return { span: buf, off: 0, got: await preadAll(req.fd, buf, at) };
  };
  try {
    const opens: Promise<void>[] = [];
    for (const [a, n] of groupRuns(l, req.first, req.count)) {
      // Slot 0 of the run in one read; slot 1 only where the disk (or the caller) says it may
      // hold something: a file written once has a hole there.
      const at1 = req.base + slotOffset(l, a, 1);
      const [s0, s1] = await allSettled([
        span(req.base + slotOffset(l, a, 0), n),
        l.paired &&
          (sysMayHoldData(req.fd, at1, at1 + n * size) ||
            [...must].some((k) => k >= a - req.first && k < a - req.first + n))
          ? span(at1, n)
          : Promise.resolve(null),
      ]);
      for (let j = 0; j < n; j++) {
        const k = a - req.first + j;
        const b0 = { span: s0!.span, off: j * size, got: s0!.got };
        const b1 = s1 && { span: s1.span, off: j * size, got: s1.got };
        const seen = slotCandidates(b0, b1, l);
        if (seen.tries.length === 0) {
          lengths[k] = seen.truncated ? CHUNK_TRUNCATED : CHUNK_UNWRITTEN;
          continue;
        }
        lengths[k] = CHUNK_DAMAGED;
        opens.push((async () => {
          for (const [t, c] of seen.tries.entries()) {
            const { nonce, sealed } = slotParts(c.span, c.off, l, c.len);
            const ad = chunkAd(req.ad, l, req.first + k, c.gen);
            const ok = direct
              ? direct.openInto(req.key, nonce, sealed, ad, plain, k * cs)
              : await openAsync(req, nonce, sealed, ad, plain, k * cs);
            if (!ok) continue;
            lengths[k] = c.len;
            if (t > 0 || seen.truncated) older.push(req.first + k);
            return;
          }
        })());
      }
    }
    await Promise.all(opens);
    const out = { id: req.id, lengths, older: older.length ? older : undefined };
    return req.plain instanceof Uint8Array ? { ...out, plain } : out;
  } finally {
    for (const buf of taken) images.give(buf);
  }
}

async function serve(req: ChunkRequest): Promise<ChunkReply> {
  try {
    return req.op === "write" ? await write(req) : await read(req);
  } catch (e) {
    if (e instanceof SysError) return { id: req.id, errno: e.errno };
    return { id: req.id, error: String(e) };
  } finally {
    req.key.fill(0);
  }
}

// At most as many batches in progress as there are pooled slot images: a burst of requests
// beyond that waits here rather than allocating images that the pool then could not keep
// (a 1 GiB sequential read allocated ~300 fresh MiB in this worker without the limit).
let active = 0;
const waiting: (() => void)[] = [];
async function admitted(req: ChunkRequest): Promise<ChunkReply> {
  if (active >= images.max) await new Promise<void>((go) => waiting.push(go));
  active++;
  try {
    return await serve(req);
  } finally {
    active--;
    waiting.shift()?.();
  }
}

self.onmessage = async (ev: MessageEvent<ChunkRequest | ShareMessage | TrimMessage>) => {
  const m = ev.data;
  if (m.op === "trim") {
    images.clear();
    collectGarbage();
    trimFreedMemory(); // pages of freed cipher contexts (key schedules)
    wipeDeadStack(); // key copies that native cipher code left in dead frames
    return;
  }
  if (m.op === "share") {
    if (m.buf) shared.set(m.id, m.buf);
    else shared.delete(m.id);
    return;
  }
  const reply = await admitted(m);
  const transfer: ArrayBuffer[] = [];
  if (reply.plain?.buffer instanceof ArrayBuffer) transfer.push(reply.plain.buffer);
  if (reply.lengths) transfer.push(reply.lengths.buffer as ArrayBuffer);
  self.postMessage(reply, { transfer });
};
