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
  chunkAd,
  LEN_BYTES,
  slotBytes,
  slotLength,
  slotParts,
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
  const n = req.nonceLength;
  const count = req.lengths.length;
  const cs = req.chunkSize;
  // All slots but the last are padded to full size so that one pwrite covers the span.
  const out = images.take((count - 1) * req.slot + slotBytes(n, req.lengths[count - 1]), false);
  const direct = directAead(req.cipher);
  const jobs: Promise<Uint8Array>[] = [];
  for (let k = 0; k < count; k++) {
    const off = k * req.slot;
    const len = req.lengths[k];
    const nonce = startSlot(out, off, n, len);
    const pt = plain.subarray(k * cs, k * cs + len);
    const ad = chunkAd(req.ad, req.first + k);
    if (direct) direct.sealInto(req.key, nonce, pt, ad, out, off + LEN_BYTES + n);
    else jobs.push(sealAsync(req, nonce, pt, ad));
  }
  if (!direct) {
    const sealed = await Promise.all(jobs);
    for (let k = 0; k < count; k++) out.set(sealed[k], k * req.slot + LEN_BYTES + n);
  }
  try {
    await pwriteAll(req.fd, out, req.pos);
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
  const n = req.nonceLength;
  const cs = req.chunkSize;
  const span = images.take(req.count * req.slot, false);
  try {
    const got = await preadAll(req.fd, span, req.pos);
    // A chunk that fails leaves old bytes of a reused image in its place: its length says so.
    const plain = plainOf(req.plain);
    const lengths = new Int32Array(req.count);
    const direct = directAead(req.cipher);
    const pending: Promise<void>[] = [];
    for (let k = 0; k < req.count; k++) {
      const off = k * req.slot;
      const len = slotLength(span, off, got, n, cs);
      lengths[k] = len;
      if (len < 0) continue;
      const { nonce, sealed } = slotParts(span, off, n, len);
      const ad = chunkAd(req.ad, req.first + k);
      const done = (ok: boolean) => void (ok || (lengths[k] = CHUNK_DAMAGED));
      if (direct) done(direct.openInto(req.key, nonce, sealed, ad, plain, k * cs));
      else pending.push(openAsync(req, nonce, sealed, ad, plain, k * cs).then(done));
    }
    await Promise.all(pending);
    return req.plain instanceof Uint8Array
      ? { id: req.id, plain, lengths }
      : { id: req.id, lengths };
  } finally {
    images.give(span);
  }
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
  self.postMessage(reply, { transfer });
};
