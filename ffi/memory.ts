/**
 * Memory for secrets (keys), through libc FFI: its own page-aligned anonymous mapping, locked
 * in RAM (`mlock`, so it is never written to swap), left out of core dumps
 * (`MADV_DONTDUMP`), wiped in a forked child (`MADV_WIPEONFORK`), and zeroed, unlocked and
 * unmapped by {@link SecretBuffer.dispose}.
 *
 * Fallbacks, never errors: when `mlock` fails (RLIMIT_MEMLOCK, `ulimit -l`, is 8 MiB here) the
 * buffer is still its own mapping, but `locked` is false; without `--allow-ffi` (or without
 * glibc) it is an ordinary `Uint8Array` that is still zeroed on dispose.
 *
 * Pitfall: after `munmap`, touching the pages is a SIGSEGV, not an exception. So dispose
 * detaches the ArrayBuffer (`transfer(0)`) before unmapping: later access to `bytes` then sees
 * an empty, detached buffer instead of crashing the process.
 */
import { type Libc, libcIfAvailable } from "./libc.ts";

const PROT_NONE = 0;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const MADV_DONTDUMP = 16;
const MADV_WIPEONFORK = 18;
const SC_PAGESIZE = 30;
const MAP_FAILED = 0xffffffffffffffffn;

// Bound when this module loads (not lazily inside a caller, whose test would otherwise see the
// binding made during it), through the thread's one libc binding (`libc.ts`).
const libc: Libc | null = libcIfAvailable();
const pageSize: number = libc ? Number(libc.sysconf(SC_PAGESIZE)) || 4096 : 4096;

/** Whether secret memory comes from libc (FFI granted and available). */
export function secretMemoryAvailable(): boolean {
  return libc !== null;
}

/** A buffer for secret bytes; see the module comment. Call {@link dispose} when done. */
export class SecretBuffer {
  #bytes: Uint8Array;
  #ab: ArrayBuffer | null;
  #ptr: Deno.PointerObject | null;
  #mapLength: number;
  #locked: boolean;
  #disposed = false;

  private constructor(
    bytes: Uint8Array,
    ab: ArrayBuffer | null,
    ptr: Deno.PointerObject | null,
    mapLength: number,
    locked: boolean,
  ) {
    this.#bytes = bytes;
    this.#ab = ab;
    this.#ptr = ptr;
    this.#mapLength = mapLength;
    this.#locked = locked;
  }

  /** Allocates `n` zeroed bytes of secret memory (n ≥ 0). */
  static alloc(n: number): SecretBuffer {
    if (!Number.isInteger(n) || n < 0) throw new RangeError("SecretBuffer size must be ≥ 0");
    if (!libc) return new SecretBuffer(new Uint8Array(n), null, null, 0, false);
    const mapLength = Math.max(pageSize, Math.ceil(n / pageSize) * pageSize);
    const ptr = libc.mmap(
      null,
      BigInt(mapLength),
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS,
      -1,
      0n,
    );
    if (ptr === null || Deno.UnsafePointer.value(ptr) === MAP_FAILED) {
      // Out of address space is not worth failing for: fall back to ordinary memory.
      return new SecretBuffer(new Uint8Array(n), null, null, 0, false);
    }
    const len = BigInt(mapLength);
    const locked = libc.mlock(ptr, len) === 0;
    // Best effort: kernels older than 4.14 lack WIPEONFORK; failure leaves the page usable.
    libc.madvise(ptr, len, MADV_DONTDUMP);
    libc.madvise(ptr, len, MADV_WIPEONFORK);
    const ab = Deno.UnsafePointerView.getArrayBuffer(ptr, mapLength);
    return new SecretBuffer(new Uint8Array(ab, 0, n), ab, ptr, mapLength, locked);
  }

  /** Allocates a buffer holding a copy of `src`, then zeroes `src`. */
  static takeFrom(src: Uint8Array): SecretBuffer {
    const buf = SecretBuffer.alloc(src.length);
    buf.bytes.set(src);
    src.fill(0);
    return buf;
  }

  /** The secret bytes; empty (detached) after {@link dispose}. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** Whether the pages are locked in RAM (false when mlock failed or without FFI). */
  get locked(): boolean {
    return this.#locked;
  }

  /** Whether the memory is its own mapping from libc (false: ordinary JS memory). */
  get mapped(): boolean {
    return this.#ptr !== null;
  }

  /** Whether {@link dispose} was called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Makes the pages read-only (mprotect): a stray write is then a crash rather than a silent
   * change of a key. No-op without FFI. {@link dispose} makes them writable again to zero them.
   */
  makeReadOnly(): void {
    this.#protect(PROT_READ);
  }

  /**
   * Makes the pages inaccessible (mprotect PROT_NONE) until {@link expose}: while a key is not
   * in use, a stray read (an out-of-bounds bug, a debugger's careless dump) faults instead of
   * finding it. Touching `bytes` meanwhile is a SIGSEGV, not an exception: use {@link use}.
   * No-op without FFI.
   */
  noAccess(): void {
    this.#protect(PROT_NONE);
  }

  /** Makes the pages readable and writable again (after {@link noAccess} or makeReadOnly). */
  expose(): void {
    this.#protect(PROT_READ | PROT_WRITE);
  }

  /**
   * Runs `fn` with the bytes accessible and makes the pages inaccessible again afterwards
   * (also when `fn` throws). `fn` must be synchronous and must not keep `bytes`.
   */
  use<T>(fn: (bytes: Uint8Array) => T): T {
    this.expose();
    try {
      return fn(this.#bytes);
    } finally {
      this.noAccess();
    }
  }

  #protect(prot: number): void {
    if (this.#disposed) throw new Error("SecretBuffer used after dispose");
    if (libc && this.#ptr) libc.mprotect(this.#ptr, BigInt(this.#mapLength), prot);
  }

  /** Zeroes the bytes, unlocks and unmaps the pages, and detaches `bytes`. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const ptr = this.#ptr;
    const ab = this.#ab;
    if (libc && ptr && ab) {
      const len = BigInt(this.#mapLength);
      libc.mprotect(ptr, len, PROT_READ | PROT_WRITE);
      new Uint8Array(ab).fill(0);
      if (this.#locked) libc.munlock(ptr, len);
      // Detach before unmapping so no JS view can reach the unmapped pages (SIGSEGV).
      ab.transfer(0);
      // Keep the range reserved as PROT_NONE if munmap fails, so it can never be read.
      if (libc.munmap(ptr, len) !== 0) libc.mprotect(ptr, len, PROT_NONE);
    } else {
      this.#bytes.fill(0);
      // Our own buffer (from alloc): detaching it makes later use fail loudly, as with FFI.
      (this.#bytes.buffer as ArrayBuffer).transfer(0);
    }
    this.#bytes = new Uint8Array(0);
    this.#ab = null;
    this.#ptr = null;
    this.#locked = false;
  }

  /** Same as {@link dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Many small secrets (per-file keys) in shared locked pages: taking and giving back a slot costs
 * no system call, where a {@link SecretBuffer} per key costs five (mmap, mlock, two madvise,
 * munmap) per file. Pages are added as needed and unmapped by {@link dispose}.
 */
export class SecretSlab {
  #pages: SecretBuffer[] = [];
  #free: Uint8Array[] = [];

  /** A slab of `slotSize`-byte slots (1..pageSize). */
  constructor(readonly slotSize: number) {
    if (!Number.isInteger(slotSize) || slotSize < 1 || slotSize > pageSize) {
      throw new RangeError("slot size must be 1..page size");
    }
  }

  /** A zeroed slot; give it back with {@link give}, exactly once. */
  take(): Uint8Array {
    let slot = this.#free.pop();
    if (slot === undefined) {
      const page = SecretBuffer.alloc(pageSize);
      this.#pages.push(page);
      const n = Math.floor(page.bytes.length / this.slotSize);
      for (let i = n - 1; i >= 0; i--) {
        this.#free.push(page.bytes.subarray(i * this.slotSize, (i + 1) * this.slotSize));
      }
      slot = this.#free.pop() as Uint8Array;
    }
    return slot;
  }

  /** Zeroes a slot and makes it free again. */
  give(slot: Uint8Array): void {
    slot.fill(0);
    this.#free.push(slot);
  }

  /** Slots in use (taken and not given back). */
  get inUse(): number {
    const per = Math.floor(pageSize / this.slotSize);
    return this.#pages.length * per - this.#free.length;
  }

  /** Zeroes and unmaps every page (slots still taken become detached). */
  dispose(): void {
    for (const p of this.#pages) p.dispose();
    this.#pages = [];
    this.#free = [];
  }
}

/**
 * Hands free malloc memory back to the kernel (glibc `malloc_trim`, every arena): whole free
 * pages are discarded, so freed key copies on them (cipher contexts, key schedules) are gone
 * rather than waiting to be overwritten. Smaller free chunks on pages still in use stay.
 */
export function trimFreedMemory(): void {
  libc?.malloc_trim(0n);
}

// x86_64 glibc ucontext_t: uc_flags, uc_link, uc_stack (24 bytes), then gregs[], REG_RSP = 15.
const UCONTEXT_BYTES = 1024;
const RSP_OFFSET = 40 + 15 * 8;
const SIG_BLOCK = 0;
const SIG_SETMASK = 2;
/** Left alone below the stack pointer: the frames of the calls that do the wiping. */
const STACK_MARGIN = 4096;
/** How far below the stack pointer the stack is wiped. */
const STACK_WIPE = 256 * 1024;

/**
 * Zeroes the dead part of the calling thread's stack (up to 256 KiB below the current frame).
 * Native cipher and HMAC code copies keys into stack locals that nobody clears: they stay there
 * until deeper calls happen to overwrite them. Signals are blocked meanwhile, so no handler
 * frame lands in the range being zeroed. Returns the bytes zeroed (0 where unsupported).
 */
export function wipeDeadStack(): number {
  if (!libc || Deno.build.arch !== "x86_64") return 0;
  const ctx = new Uint8Array(UCONTEXT_BYTES);
  const all = new Uint8Array(128).fill(0xff);
  const old = new Uint8Array(128);
  if (libc.pthread_sigmask(SIG_BLOCK, all, old) !== 0) return 0;
  try {
    if (libc.getcontext(ctx) !== 0) return 0;
    const sp = new DataView(ctx.buffer).getBigUint64(RSP_OFFSET, true);
    const low = mappingStart(sp);
    if (low === null) return 0;
    const top = sp - BigInt(STACK_MARGIN);
    let from = top - BigInt(STACK_WIPE);
    if (from < low) from = low;
    if (from >= top) return 0;
    libc.explicit_bzero(Deno.UnsafePointer.create(from), top - from);
    return Number(top - from);
  } finally {
    libc.pthread_sigmask(SIG_SETMASK, old, null);
  }
}

// Start of the mapping that holds `addr` (the stack's lowest mapped byte), from /proc/self/maps.
function mappingStart(addr: bigint): bigint | null {
  let maps: string;
  try {
    maps = Deno.readTextFileSync("/proc/self/maps");
  } catch {
    return null;
  }
  for (const line of maps.split("\n")) {
    const dash = line.indexOf("-");
    const space = line.indexOf(" ");
    if (dash < 0 || space < dash) continue;
    const start = BigInt(`0x${line.slice(0, dash)}`);
    const end = BigInt(`0x${line.slice(dash + 1, space)}`);
    if (start <= addr && addr < end) {
      return line.slice(space + 1, space + 3) === "rw" ? start : null;
    }
  }
  return null;
}
