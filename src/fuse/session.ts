/**
 * One libfuse low-level session driven from the JS thread.
 *
 * Loop model (chosen by measurement, see DEFAULT_LOOP_TUNING): a *synchronous* `poll(fd, 0)`;
 * when a request is ready it is read with a synchronous `fuse_session_receive_buf` and
 * dispatched with a synchronous `fuse_session_process_buf`, whose callbacks run right here on
 * the JS thread and only start the (async) fs work. Between requests the loop lets microtasks
 * run so finished operations reply at once; when idle it spins briefly, then awaits a
 * nonblocking `poll` on a worker thread so the event loop (fs I/O, timers) keeps turning. Every
 * `burst` requests it also awaits a zero-timeout nonblocking poll, so macrotasks are never
 * starved under load. While no fs operation is pending, the idle wait is instead a short
 * *synchronous* poll (the kernel wakes this thread directly): an awaited nonblocking FFI call
 * costs more than a whole small request. Timers and other event-loop work then wait at most
 * 1 ms.
 *
 * @module
 */

import { type Fuse, OP_SIGNATURES, type OpHandlers, type OpName } from "../../ffi/fuse.ts";
import { Args, FuseBuf, LowlevelOps } from "../../ffi/layouts.ts";
import { cString } from "../../ffi/libc.ts";
import { freeC, pollFd, pollIn, pollInOffThread, setNonblocking } from "../../ffi/poll.ts";
import { answerInit, isInit } from "./init_reply.ts";

/** Knobs of the request loop. */
export interface LoopTuning {
  /** Requests handled between two full event-loop turns under load. */
  burst: number;
  /** Idle spin (µs) with only microtask turns before parking in a threaded poll. */
  spinUs: number;
  /** Timeout (ms) of the parked poll, so an exit request is noticed. */
  idleTimeoutMs: number;
  /**
   * While no fs operation is pending and a request came within `hotMs`, wait for the next one in
   * a *synchronous* poll of up to `blockMs` (woken directly by the kernel, no thread hop), then
   * give the event loop a turn. 0 disables.
   */
  blockMs: number;
  /** See {@link blockMs}. */
  hotMs: number;
}

/**
 * Tuning chosen by measurement (figures: docs/performance.md, "Choices in the code"). Spin:
 * with nothing in flight, a short poll spin before sleeping saves the thread hop of a parked
 * poll on every request of a request-response exchange (a `getxattr` round trip, file creation)
 * and does not slow streams. Then 1 ms blocking polls while requests keep coming.
 */
export const DEFAULT_LOOP_TUNING: LoopTuning = {
  burst: 32,
  spinUs: 60,
  idleTimeoutMs: 200,
  blockMs: 1,
  hotMs: 50,
};

/** What the session keeps of an UnsafeCallback: closing it at the end. */
interface Closable {
  close(): void;
}

const EINTR = 4;
const EAGAIN = 11;

/** A libfuse session with its callbacks, mount state and request loop. */
export class FuseSession {
  private readonly callbacks: Closable[];
  private readonly buf = new Uint8Array(FuseBuf.size);
  readonly #bufView = new DataView(this.buf.buffer);
  private readonly keepAlive: unknown[];
  private readonly args: Uint8Array<ArrayBuffer>;
  private se: Deno.PointerObject | null;
  private destroyed = false;
  /** /dev/fuse file descriptor (valid after mount). */
  fd = -1;
  /** Kernel INIT flags to add to libfuse's reply when the kernel offers them (init_reply.ts). */
  extraInitFlags = 0;
  /** Those of {@link extraInitFlags} granted; called once INIT is answered. */
  onInit: (granted: number) => void = () => {};
  #initDone = false;
  // The request buffer's address (FuseBuf.mem) and a view of it, made once per address: the
  // buffer libfuse allocates at the first read is reused for every request.
  #request: { at: bigint; view: Deno.UnsafePointerView | null } = { at: 0n, view: null };

  private constructor(
    private readonly fuse: Fuse,
    se: Deno.PointerObject,
    callbacks: Closable[],
    args: Uint8Array<ArrayBuffer>,
    keepAlive: unknown[],
  ) {
    this.se = se;
    this.callbacks = callbacks;
    this.args = args;
    this.keepAlive = keepAlive;
  }

  /**
   * `fuse_session_new` with `argv` (argv[0] is the program name) and the given handlers.
   * Returns undefined when libfuse rejects the options (it prints why on stderr).
   */
  static create(fuse: Fuse, argv: string[], handlers: OpHandlers): FuseSession | undefined {
    const callbacks: Closable[] = [];
    const table = new BigUint64Array(LowlevelOps.size / 8);
    for (const name of Object.keys(OP_SIGNATURES) as OpName[]) {
      const cb = new Deno.UnsafeCallback(
        OP_SIGNATURES[name],
        handlers[name] as Deno.UnsafeCallbackFunction<
          (typeof OP_SIGNATURES)[typeof name]["parameters"],
          (typeof OP_SIGNATURES)[typeof name]["result"]
        >,
      );
      callbacks.push(cb);
      table[LowlevelOps.slots[name]] = BigInt(Deno.UnsafePointer.value(cb.pointer));
    }
    // argv strings and the pointer array must outlive fuse_session_new's option parsing.
    const strings = argv.map((a) => cString(a));
    const ptrs = new BigUint64Array(argv.length + 1);
    strings.forEach((s, i) => ptrs[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s))));
    const args = new Uint8Array(Args.size);
    const av = new DataView(args.buffer);
    av.setInt32(Args.argc, argv.length, true);
    av.setBigUint64(Args.argv, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(ptrs))), true);
    av.setInt32(Args.allocated, 0, true);
    const se = fuse.fuse_session_new(
      args,
      new Uint8Array(table.buffer),
      BigInt(LowlevelOps.size),
      null,
    );
    if (se === null) {
      fuse.fuse_opt_free_args(args);
      for (const cb of callbacks) cb.close();
      return undefined;
    }
    return new FuseSession(fuse, se, callbacks, args, [strings, ptrs, table]);
  }

  /** Mounts at `mountPoint`; false when libfuse failed (it prints why on stderr). */
  mount(mountPoint: string): boolean {
    if (this.se === null) return false;
    if (this.fuse.fuse_session_mount(this.se, cString(mountPoint)) !== 0) return false;
    this.fd = this.fuse.fuse_session_fd(this.se);
    // Nonblocking reads: a request that was ready at poll time may be withdrawn (its caller got
    // a fatal signal), and a blocking read would then stall every pending reply.
    setNonblocking(this.fd);
    return true;
  }

  /**
   * Makes the kernel forget its cached attributes of `ino` (no page is touched, so no lock is
   * taken: safe from a request handler). Returns libfuse's result (0, or -errno).
   */
  invalidateAttr(ino: bigint): number {
    if (this.se === null) return -1;
    return this.fuse.fuse_lowlevel_notify_inval_inode(this.se, ino, -1n, 0n);
  }

  /**
   * Makes the kernel drop its cached entry `name` of directory `parent`; the inode behind it
   * is then forgotten (FORGET) once nothing uses it. Runs on a pool thread (see ffi/fuse.ts), so
   * requests keep being served meanwhile. Resolves to libfuse's result (0, or -errno).
   */
  async invalidateEntry(parent: bigint, name: Uint8Array): Promise<number> {
    if (this.se === null) return -1;
    const f = this.fuse;
    return await f.fuse_lowlevel_notify_inval_entry_nb(this.se, parent, name, BigInt(name.length));
  }

  /**
   * Puts the bytes of the one-buffer `fuse_bufvec` `bufv` into the kernel's page cache of `ino`
   * at `offset` (see page_store.ts), from a pool thread. Resolves to libfuse's result.
   */
  async storePages(ino: bigint, offset: bigint, bufv: Uint8Array<ArrayBuffer>): Promise<number> {
    if (this.se === null) return -1;
    return await this.fuse.fuse_lowlevel_notify_store_nb(this.se, ino, offset, bufv, 0);
  }

  /** Asks the loop to stop at its next turn (it does not unmount). */
  exit(): void {
    if (this.se !== null) this.fuse.fuse_session_exit(this.se);
  }

  /** True once the session was asked to stop or the kernel connection went away. */
  get exited(): boolean {
    return this.se === null || this.fuse.fuse_session_exited(this.se) !== 0;
  }

  /**
   * Serves requests until the session ends: unmounted (the device reports ENODEV), aborted, or
   * {@link exit} called. Resolves with 0 or a negative errno from the device.
   */
  async loop(
    t: LoopTuning = DEFAULT_LOOP_TUNING,
    busy: () => boolean = () => true,
    room: () => Promise<void> | null = () => null,
    more: () => boolean = () => false,
  ): Promise<number> {
    const se = this.se;
    if (se === null) return 0;
    const f = this.fuse;
    const pfd = pollFd(this.fd);
    const apfd = pollFd(this.fd); // separate memory: the worker thread owns it while waiting
    const buf = this.buf;
    let handled = 0;
    let turnAt = 0; // the value of `handled` at the last full event-loop turn
    let last = performance.now();
    // Reads and processes one request if one is queued: 1 when it did, 0 when the queue was
    // empty (the descriptor is nonblocking: EAGAIN), -1 once the session ended, else -errno.
    // Reading straight away, rather than polling first, saves a system call per request.
    const take = (): number => {
      const r = f.fuse_session_receive_buf(se, buf);
      if (r > 0) {
        if (this.#initDone) f.fuse_session_process_buf(se, buf);
        else this.#first(se, buf);
        last = performance.now();
        return 1;
      }
      if (r === 0) return -1; // ENODEV: unmounted
      return r === -EAGAIN || r === -EINTR ? 0 : r;
    };
    while (f.fuse_session_exited(se) === 0) {
      const wait = room();
      if (wait) {
        await wait; // too many bytes in flight: let them finish before taking more
        continue;
      }
      let got = take();
      // Nothing pending in JS: the caller is probably about to send its next request (a tar or
      // a stat loop does one at a time). Trying for a few tens of µs catches it without the
      // thread going to sleep, whose wake-up costs more than the spin. While operations are in
      // flight, the event loop must turn instead (their I/O completions are macrotasks).
      if (got === 0 && t.spinUs > 0 && !busy()) {
        const until = performance.now() + t.spinUs / 1000;
        while (got === 0 && performance.now() < until) {
          await null;
          got = take();
        }
      }
      if (got < 0) return got === -1 ? 0 : got;
      if (got > 0) {
        // The kernel's write-back sends its writes without waiting for replies: when one came
        // (`more`), those queued behind it are taken before any store starts, so that writes
        // into one chunk are stored together (FileData #writeInChunk).
        for (let k = 0; k < t.burst && more(); k++) {
          const g = take();
          if (g < 0) return g === -1 ? 0 : g;
          if (g === 0) break;
          handled++;
        }
        // Counted, not `handled % burst`: requests taken together would step over the multiple.
        if (++handled - turnAt >= t.burst) {
          turnAt = handled;
          await pollInOffThread(apfd, 0);
        } else {
          // Let operations that need no I/O (a chain of awaits on resolved promises) finish and
          // reply now: otherwise the loop would park in an awaited poll with the reply pending
          // behind it, and each such request would cost a thread hop.
          let turns = 0;
          do await null; while (busy() && ++turns < 64);
        }
        continue;
      }
      if (t.blockMs > 0 && !busy() && performance.now() - last < t.hotMs) {
        // Nothing pending in JS: sleep in the kernel until the next request or the timeout,
        // then let the event loop run (timers, signals) before looking again.
        if (pollIn(pfd, t.blockMs) > 0) continue;
        await pollInOffThread(apfd, 0);
        continue;
      }
      await pollInOffThread(apfd, t.idleTimeoutMs);
    }
    return 0;
  }

  // The first requests, until INIT: INIT is answered with the extra flags (init_reply.ts).
  #first(se: Deno.PointerObject, buf: Uint8Array<ArrayBuffer>): void {
    const f = this.fuse;
    const req = this.request();
    if (req === null || !isInit(req)) return f.fuse_session_process_buf(se, buf);
    this.#initDone = true;
    const granted = answerInit(this.fd, req, this.extraInitFlags, () => {
      f.fuse_session_process_buf(se, buf);
    });
    this.onInit(granted);
  }

  /**
   * A view of the raw request being processed (`fuse_in_header` first), meaningful only during a
   * callback of `fuse_session_process_buf`.
   */
  request(): Deno.UnsafePointerView | null {
    const at = this.#bufView.getBigUint64(FuseBuf.mem, true);
    if (at !== this.#request.at) {
      const p = Deno.UnsafePointer.create(at);
      this.#request = { at, view: p === null ? null : new Deno.UnsafePointerView(p) };
    }
    return this.#request.view;
  }

  /**
   * Unmounts when `unmount` (the mount is still attached), destroys the session (closing
   * /dev/fuse, which aborts a connection still alive) and frees the callbacks. Call only after
   * {@link loop} resolved; no reply may be sent afterwards. Skipping the unmount when the mount
   * is already gone matters: after a lazy detach, libfuse would unmount whatever is mounted at
   * that path by then.
   */
  destroy(unmount = true): void {
    if (this.destroyed || this.se === null) return;
    this.destroyed = true;
    const se = this.se;
    if (unmount) this.fuse.fuse_session_unmount(se);
    this.fuse.fuse_session_destroy(se);
    this.se = null;
    const mem = this.#bufView.getBigUint64(FuseBuf.mem, true);
    freeC(mem);
    this.fuse.fuse_opt_free_args(this.args);
    for (const cb of this.callbacks) cb.close();
    this.keepAlive.length = 0;
  }
}
