/**
 * A few large buffers kept for reuse: a fresh MiB costs page faults that take longer than
 * filling it. Buffers are handed out as views of the requested length.
 */
export class BufferPool {
  readonly #spare: ArrayBuffer[] = [];

  constructor(readonly max: number) {}

  /** A view of `bytes` bytes, on a kept buffer when one is big enough (zeroed if `zero`). */
  take(bytes: number, zero = true): Uint8Array<ArrayBuffer> {
    const i = this.#spare.findIndex((b) => b.byteLength >= bytes);
    if (i < 0) return new Uint8Array(bytes);
    const out = new Uint8Array(this.#spare.splice(i, 1)[0], 0, bytes);
    if (zero) out.fill(0);
    return out;
  }

  /** Keeps the buffer under `view` for reuse (unless the pool is full or it was moved away). */
  give(view: Uint8Array): void {
    const b = view.buffer;
    if (b instanceof ArrayBuffer && b.byteLength > 0 && this.#spare.length < this.max) {
      this.#spare.push(b);
    }
  }

  /** Drops every kept buffer. */
  clear(): void {
    this.#spare.length = 0;
  }
}
