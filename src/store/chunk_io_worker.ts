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
import {
  CHUNK_DAMAGED,
  CHUNK_TRUNCATED,
  CHUNK_UNWRITTEN,
  chunkAd,
  chunkStride,
  headerBytes,
  pairCandidates,
  slotBytes,
  type SlotLayout,
  slotLength,
  slotParts,
  slotSize,
  startSlot,
} from "./chunk_slot.ts";

const lib = Deno.dlopen("libc.so.6", {
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize", nonblocking: true },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize", nonblocking: true },
  // Synchronous twins: a failed call is repeated on this thread to learn its errno (the
  // nonblocking call set it on a pool thread). Disk-full and I/O errors repeat.
  pread_sync: { name: "pread", parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pwrite_sync: { name: "pwrite", parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  __errno_location: { parameters: [], result: "pointer" },
});

function errnoHere(): number {
  const p = lib.symbols.__errno_location();
  return p === null ? 5 : new Deno.UnsafePointerView(p).getInt32() || 5;
}

/** Thrown inside the worker for a failed system call; becomes `errno` in the reply. */
class SysFailure extends Error {
  constructor(readonly errno: number) {
    super(`errno ${errno}`);
  }
}

async function pwriteAll(fd: number, buf: Uint8Array<ArrayBuffer>, pos: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const part = buf.subarray(done);
    const n = Number(await lib.symbols.pwrite(fd, part, BigInt(part.length), BigInt(pos + done)));
    if (n > 0) {
      done += n;
      continue;
    }
    const again = Number(
      lib.symbols.pwrite_sync(fd, part, BigInt(part.length), BigInt(pos + done)),
    );
    if (again > 0) done += again;
    else throw new SysFailure(again === 0 ? 28 /* ENOSPC */ : errnoHere());
  }
}

async function preadAll(fd: number, buf: Uint8Array<ArrayBuffer>, pos: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const part = buf.subarray(done);
    let n = Number(await lib.symbols.pread(fd, part, BigInt(part.length), BigInt(pos + done)));
    if (n < 0) {
      n = Number(lib.symbols.pread_sync(fd, part, BigInt(part.length), BigInt(pos + done)));
    }
    if (n < 0) throw new SysFailure(errnoHere());
    if (n === 0) break; // end of file
    done += n;
  }
  return done;
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
  const stride = chunkStride(l);
  const head = headerBytes(l) + l.nonceLength;
  // Unpaired: all slots but the last are padded to full size so that one pwrite covers the
  // span. Paired: each chunk's slot is written on its own (the other slot of each pair must
  // not be touched), all at once.
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
    if (!l.paired) await pwriteAll(req.fd, out, req.pos);
    else {
      const slots = req.slots ?? [];
      await Promise.all(req.lengths.map((len, k) =>
        pwriteAll(
          req.fd,
          out.subarray(k * size, k * size + slotBytes(l, len)),
          req.pos + k * stride + (slots[k] ?? 0) * size,
        )
      ));
    }
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
  const stride = chunkStride(l);
  const span = images.take(req.count * stride, false);
  try {
    const got = await preadAll(req.fd, span, req.pos);
    // A chunk that fails leaves old bytes of a reused image in its place: its length says so.
    const plain = plainOf(req.plain);
    const lengths = new Int32Array(req.count);
    const slots = l.paired ? new Uint8Array(req.count) : undefined;
    const gens = l.paired ? new Float64Array(req.count) : undefined;
    const direct = directAead(req.cipher);
    const opens: Promise<void>[] = [];
    const older: number[] = [];
    for (let k = 0; k < req.count; k++) {
      const off = k * stride;
      // Unpaired: the slot as it is (generation 0 in the associated data is never used).
      const seen = l.paired ? pairCandidates(span, off, got, l) : single(span, off, got, l);
      if (seen.tries.length === 0) {
        lengths[k] = seen.truncated ? CHUNK_TRUNCATED : CHUNK_UNWRITTEN;
        continue;
      }
      lengths[k] = CHUNK_DAMAGED;
      const open = async () => {
        for (const [n, t] of seen.tries.entries()) {
          const { nonce, sealed } = slotParts(span, t.off, l, t.len);
          const ad = chunkAd(req.ad, l, req.first + k, t.gen);
          const ok = direct
            ? direct.openInto(req.key, nonce, sealed, ad, plain, k * cs)
            : await openAsync(req, nonce, sealed, ad, plain, k * cs);
          if (!ok) continue;
          lengths[k] = t.len;
          if (slots && gens) {
            slots[k] = t.off === off ? 0 : 1;
            gens[k] = t.gen;
          }
          if (n > 0 || seen.truncated) older.push(req.first + k);
          return;
        }
      };
      opens.push(open());
    }
    await Promise.all(opens);
    const out = { id: req.id, lengths, slots, gens, older: older.length ? older : undefined };
    return req.plain instanceof Uint8Array ? { ...out, plain } : out;
  } finally {
    images.give(span);
  }
}

// An unpaired slot as the one candidate of its chunk.
function single(span: Uint8Array, off: number, got: number, l: SlotLayout) {
  const len = slotLength(span, off, got, l);
  return { tries: len < 0 ? [] : [{ off, len, gen: 0 }], truncated: len === CHUNK_TRUNCATED };
}

async function serve(req: ChunkRequest): Promise<ChunkReply> {
  try {
    return req.op === "write" ? await write(req) : await read(req);
  } catch (e) {
    if (e instanceof SysFailure) return { id: req.id, errno: e.errno };
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
  if (reply.slots) transfer.push(reply.slots.buffer as ArrayBuffer);
  if (reply.gens) transfer.push(reply.gens.buffer as ArrayBuffer);
  self.postMessage(reply, { transfer });
};
