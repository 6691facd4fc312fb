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
import { randomBytes } from "../crypto/random.ts";
import type { ChunkReply, ChunkRequest, ReadRequest, WriteRequest } from "./chunk_io.ts";
import { CHUNK_DAMAGED, CHUNK_TRUNCATED, CHUNK_UNWRITTEN, LEN_BYTES } from "./chunk_io.ts";

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

function adFor(template: Uint8Array, i: number): Uint8Array {
  const ad = template.slice();
  new DataView(ad.buffer).setBigUint64(ad.length - 8, BigInt(i), true);
  return ad;
}

// Slot images are reused: a fresh MiB costs page faults that take longer than copying it.
const spare: ArrayBuffer[] = [];
function image(bytes: number): Uint8Array<ArrayBuffer> {
  const i = spare.findIndex((b) => b.byteLength >= bytes);
  const buf = i >= 0 ? spare.splice(i, 1)[0] : new ArrayBuffer(bytes);
  return new Uint8Array(buf, 0, bytes);
}
function recycle(buf: ArrayBuffer): void {
  if (spare.length < 8) spare.push(buf);
}

async function write(req: WriteRequest): Promise<ChunkReply> {
  const n = req.nonceLength;
  const count = req.lengths.length;
  const cs = req.chunkSize;
  // All slots but the last are padded to full size so that one pwrite covers the span.
  const lastLen = req.lengths[count - 1];
  const out = image((count - 1) * req.slot + LEN_BYTES + n + lastLen + 16);
  const dv = new DataView(out.buffer);
  const direct = directAead(req.cipher);
  const jobs: Promise<Uint8Array>[] = [];
  for (let k = 0; k < count; k++) {
    const off = k * req.slot;
    const len = req.lengths[k];
    dv.setUint32(off, len, true);
    const nonce = out.subarray(off + LEN_BYTES, off + LEN_BYTES + n);
    nonce.set(randomBytes(n));
    const pt = req.plain.subarray(k * cs, k * cs + len);
    const ad = adFor(req.ad, req.first + k);
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
    recycle(out.buffer);
  }
  return { id: req.id, plain: req.plain };
}

// AES-256-GCM: WebCrypto, every chunk of the batch in flight at once.
async function sealAsync(
  req: ChunkRequest,
  nonce: Uint8Array,
  pt: Uint8Array,
  ad: Uint8Array,
): Promise<Uint8Array> {
  const a = aead(req.cipher);
  return await a.seal(await keyOf(req), nonce, pt, ad);
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
  const span = image(req.count * req.slot);
  try {
    const got = await preadAll(req.fd, span, req.pos);
    const plain = new Uint8Array(req.count * cs);
    const lengths = new Int32Array(req.count);
    const dv = new DataView(span.buffer);
    const direct = directAead(req.cipher);
    const pending: Promise<void>[] = [];
    for (let k = 0; k < req.count; k++) {
      const off = k * req.slot;
      const len = off + LEN_BYTES > got ? 0 : dv.getUint32(off, true);
      const end = off + LEN_BYTES + n + len + 16;
      if (len === 0) lengths[k] = CHUNK_UNWRITTEN;
      else if (len > cs || end > got) lengths[k] = CHUNK_TRUNCATED;
      else {
        const nonce = span.subarray(off + LEN_BYTES, off + LEN_BYTES + n);
        const sealed = span.subarray(off + LEN_BYTES + n, end);
        const ad = adFor(req.ad, req.first + k);
        const done = (ok: boolean) => void (lengths[k] = ok ? len : CHUNK_DAMAGED);
        if (direct) done(direct.openInto(req.key, nonce, sealed, ad, plain, k * cs));
        else pending.push(openAsync(req, nonce, sealed, ad, plain, k * cs).then(done));
      }
    }
    await Promise.all(pending);
    return { id: req.id, plain, lengths };
  } finally {
    recycle(span.buffer);
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

self.onmessage = async (ev: MessageEvent<ChunkRequest>) => {
  const reply = await serve(ev.data);
  const transfer: ArrayBuffer[] = [];
  if (reply.plain?.buffer instanceof ArrayBuffer) transfer.push(reply.plain.buffer);
  if (reply.lengths) transfer.push(reply.lengths.buffer as ArrayBuffer);
  self.postMessage(reply, { transfer });
};
