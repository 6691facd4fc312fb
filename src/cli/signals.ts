/** Signals as a queue one can await, so that a signal arriving at any moment is not missed. */

const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/**
 * The signals of `signals` this process inherited as ignored: `nohup` ignores SIGHUP, a shell
 * may ignore SIGINT for `cmd &`. The caller asked for them to be ignored; respect that.
 */
export async function inheritedIgnored(signals: readonly Deno.Signal[]): Promise<Deno.Signal[]> {
  let mask = 0n;
  try {
    const status = await Deno.readTextFile("/proc/self/status");
    const hex = /^SigIgn:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    if (hex) mask = BigInt(`0x${hex}`);
  } catch {
    return []; // no /proc: treat none as ignored
  }
  return signals.filter((sig) => {
    const n = SIGNAL_NUMBERS[sig];
    return n !== undefined && ((mask >> BigInt(n - 1)) & 1n) === 1n;
  });
}

/**
 * Listens to `signals` until {@link SignalQueue.close}; {@link next} yields them in order.
 * Signals in `ignored` get a listener that drops them: Deno's first listener installs handlers
 * for SIGHUP, SIGINT and SIGTERM together and turns an inherited "ignore" into "terminate".
 */
export class SignalQueue {
  readonly #handlers = new Map<Deno.Signal, () => void>();
  readonly #queued: Deno.Signal[] = [];
  #waiter: ((sig: Deno.Signal) => void) | undefined;

  constructor(signals: readonly Deno.Signal[], ignored: readonly Deno.Signal[] = []) {
    for (const sig of signals) {
      const handler = ignored.includes(sig) ? () => {} : () => this.#push(sig);
      this.#handlers.set(sig, handler);
      Deno.addSignalListener(sig, handler);
    }
  }

  /** Listens to `signals`, except those inherited as ignored, which stay ignored. */
  static async create(signals: readonly Deno.Signal[]): Promise<SignalQueue> {
    return new SignalQueue(signals, await inheritedIgnored(signals));
  }

  #push(sig: Deno.Signal): void {
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter(sig);
    } else {
      this.#queued.push(sig);
    }
  }

  /** The next signal received (a queued one first). */
  next(): Promise<Deno.Signal> {
    const sig = this.#queued.shift();
    if (sig !== undefined) return Promise.resolve(sig);
    return new Promise((resolve) => this.#waiter = resolve);
  }

  /** Stops listening. */
  close(): void {
    for (const [sig, handler] of this.#handlers) Deno.removeSignalListener(sig, handler);
    this.#handlers.clear();
  }
}
