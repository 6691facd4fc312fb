/** A small binary codec for on-disk records: little-endian fixed-width integers and byte strings. */

/** Appends fields to a growing buffer. */
export class Writer {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #len = 0;

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.#reserve(1);
    this.#view.setUint8(this.#len, v);
    this.#len += 1;
    return this;
  }

  u32(v: number): this {
    this.#reserve(4);
    this.#view.setUint32(this.#len, v >>> 0, true);
    this.#len += 4;
    return this;
  }

  u64(v: bigint | number): this {
    this.#reserve(8);
    this.#view.setBigUint64(this.#len, BigInt(v), true);
    this.#len += 8;
    return this;
  }

  i64(v: bigint): this {
    this.#reserve(8);
    this.#view.setBigInt64(this.#len, v, true);
    this.#len += 8;
    return this;
  }

  raw(b: Uint8Array): this {
    this.#reserve(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  /** A u32 length followed by the bytes. */
  bytes(b: Uint8Array): this {
    return this.u32(b.length).raw(b);
  }

  /**
   * Pads with a u32 length and zeros so the total is a multiple of `quantum`: sealed lengths
   * then reveal only a bucket, not the exact length of names or symlink targets.
   */
  pad(quantum: number): this {
    const used = this.#len + 4;
    const n = (quantum - (used % quantum)) % quantum;
    return this.u32(n).raw(new Uint8Array(n));
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** Thrown when a record is shorter than its fields say, or has bytes left over. */
export class DecodeError extends Error {}

/** Reads fields written by {@link Writer}; every read is bounds-checked. */
export class Reader {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  #pos = 0;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  #need(n: number): void {
    if (this.#pos + n > this.#buf.length) throw new DecodeError("record is truncated");
  }

  u8(): number {
    this.#need(1);
    return this.#view.getUint8(this.#pos++);
  }

  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#pos, true);
    this.#pos += 4;
    return v;
  }

  u64(): bigint {
    this.#need(8);
    const v = this.#view.getBigUint64(this.#pos, true);
    this.#pos += 8;
    return v;
  }

  /** A u64 that must fit a JS number exactly (sizes, offsets). */
  u53(): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError("integer out of range");
    return Number(v);
  }

  i64(): bigint {
    this.#need(8);
    const v = this.#view.getBigInt64(this.#pos, true);
    this.#pos += 8;
    return v;
  }

  raw(n: number): Uint8Array {
    this.#need(n);
    const v = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }

  bytes(): Uint8Array {
    return this.raw(this.u32()).slice();
  }

  /** Bytes read so far. */
  get position(): number {
    return this.#pos;
  }

  /** Skips the padding written by {@link Writer.pad}. */
  pad(): void {
    this.raw(this.u32());
  }

  /** Throws unless every byte was read: trailing garbage means a malformed record. */
  end(): void {
    if (this.#pos !== this.#buf.length) throw new DecodeError("record has trailing bytes");
  }
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** 8 little-endian bytes of a u64. */
export function u64le(v: bigint | number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
}
