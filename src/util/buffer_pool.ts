import { madeGarbage } from "./garbage.ts";

/**
 * A few large buffers kept for reuse: a fresh MiB costs page faults that take longer than
 * filling it. Buffers are handed out as views of the requested length. A buffer the pool does
 * not keep is counted as garbage (`garbage.ts`): V8 would otherwise collect it only once tens
 * of MiB of such buffers piled up.
 */
export class BufferPool {
  readonly #spare: ArrayBuffer[] = [];

  constructor(readonly max: number) {}

  /** A view of `bytes` bytes, on a kept buffer when one is big enough (zeroed if `zero`). */
  take(bytes: number, zero = true): Uint8Array<ArrayBuffer> {
    // The smallest that fits: a small request does not use up a large buffer.
    let i = -1;
    this.#spare.forEach((b, k) => {
      if (b.byteLength >= bytes && (i < 0 || b.byteLength < this.#spare[i].byteLength)) i = k;
    });
    if (i < 0) return new Uint8Array(bytes);
    const out = new Uint8Array(this.#spare.splice(i, 1)[0], 0, bytes);
    if (zero) out.fill(0);
    return out;
  }

  /** Keeps the buffer under `view` for reuse, unless it was moved away or the pool is full. */
  give(view: Uint8Array): void {
    const b = view.buffer;
    if (!(b instanceof ArrayBuffer) || b.byteLength === 0) return;
    if (this.#spare.length < this.max) return void this.#spare.push(b);
    // Full: a larger buffer replaces the smallest kept one (it serves more requests).
    let small = 0;
    this.#spare.forEach((s, k) => {
      if (s.byteLength < this.#spare[small].byteLength) small = k;
    });
    const dropped = this.#spare[small].byteLength < b.byteLength ? this.#spare[small] : b;
    if (dropped !== b) this.#spare[small] = b;
    madeGarbage(dropped.byteLength, "old");
  }

  /** Drops every kept buffer (callers collect garbage right after: not counted). */
  clear(): void {
    this.#spare.length = 0;
  }
}
