/**
 * A one-line progress bar on stderr, redrawn in place. Only for a terminal: a log or a pipe
 * gets nothing (the caller decides, see `Deno.stderr.isTerminal()`).
 */
const enc = new TextEncoder();
/** Redraws at most this often. */
const EVERY_MS = 100;
const WIDTH = 30;

/** The progress of one fsck run. */
export class ProgressBar {
  #last = 0;
  #shown = false;

  /** Shows `done` of about `total` objects (redrawn at most every 100 ms). */
  readonly update = (done: number, total: number): void => {
    const now = performance.now();
    if (now - this.#last < EVERY_MS) return;
    this.#last = now;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(frac * WIDTH);
    const bar = "#".repeat(filled) + "-".repeat(WIDTH - filled);
    this.#write(`\r[${bar}] ${Math.floor(frac * 100)}% ${done}/${total} objects`);
    this.#shown = true;
  };

  /** Clears the line, so that what follows starts at its beginning. */
  clear(): void {
    if (this.#shown) this.#write("\r\x1b[K");
    this.#shown = false;
  }

  #write(text: string): void {
    try {
      Deno.stderr.writeSync(enc.encode(text));
    } catch {
      // no stderr: no progress
    }
  }
}
