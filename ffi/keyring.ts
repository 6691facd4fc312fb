/**
 * The Linux kernel key retention service (keyrings(7)) through the raw `add_key` and `keyctl`
 * system calls, called via libc's `syscall()` so that neither libkeyutils nor a native addon is
 * needed.
 *
 * A mount parks its subkeys here while it is idle ({@link ProcessKey}): the payload lives in
 * kernel memory, out of the process's address space (no `/proc/PID/mem`, core dump or swap of
 * the process sees it). It goes in the *process* keyring: shared by the threads of this process
 * only, not inherited by children, and freed by the kernel when the process ends, even by
 * SIGKILL. The key grants every right to its possessor (this process) and none to its user,
 * group or others, so another process of the same user (or root without ptrace) cannot read it
 * through `keyctl`.
 *
 * @module
 */
import { cString, EIO, errno, type Libc, libcIfAvailable } from "./libc.ts";
import { SysError } from "./sys_error.ts";

const KEY_SPEC_PROCESS_KEYRING = -2;
const KEYCTL_REVOKE = 3;
const KEYCTL_SETPERM = 5;
const KEYCTL_READ = 11;
const KEYCTL_SET_TIMEOUT = 15;
const KEYCTL_INVALIDATE = 21;
// Possessor: view, read, search, setattr (timeout, revoke). Nothing for user, group, other.
const KEY_POS_VIEW = 0x01000000;
const KEY_POS_READ = 0x02000000;
const KEY_POS_SEARCH = 0x08000000;
const KEY_POS_SETATTR = 0x20000000;
const POSSESSOR_ONLY = KEY_POS_VIEW | KEY_POS_READ | KEY_POS_SEARCH | KEY_POS_SETATTR;

/** System call numbers by architecture (`add_key`, `keyctl`). */
const SYSCALLS: Record<string, { addKey: bigint; keyctl: bigint }> = {
  x86_64: { addKey: 248n, keyctl: 250n },
  aarch64: { addKey: 217n, keyctl: 219n },
};

// The symbols (add_key, keyctl, keyctl_read: syscall(2) bound once per argument shape) are in
// the one libc binding; null where the keyring cannot be reached.
function open(): Libc | null {
  if (!SYSCALLS[Deno.build.arch]) return null;
  return libcIfAvailable();
}

const ENOSYS = 38;
const EBADMSG = 74;
const EKEYREVOKED = 128;

/** A keyring call failed; `code` names the errno (EKEYEXPIRED, EKEYREVOKED, ENOKEY …). */
export class KeyringError extends SysError {
  override name = "KeyringError";
  constructor(errno: number, syscall: string) {
    super(errno, syscall);
  }
}

function fail(what: string): never {
  throw new KeyringError(errno() || EIO, what);
}

/** Whether the kernel keyring can be used here (Linux x86_64/aarch64, FFI granted). */
export function keyringAvailable(): boolean {
  return open() !== null;
}

/** A `user` key in this process's keyring, readable by this process only. */
export class ProcessKey {
  readonly #id: bigint;
  readonly #length: number;
  #gone = false;

  private constructor(id: bigint, length: number) {
    this.#id = id;
    this.#length = length;
  }

  /**
   * Adds `payload` (1..32767 bytes) as a new key named `description`; the caller zeroes its own
   * copy. `timeoutSeconds` (> 0): the kernel expires the key after that long, and reads fail
   * with EKEYEXPIRED. Throws {@link KeyringError}.
   */
  static add(description: string, payload: Uint8Array, timeoutSeconds?: number): ProcessKey {
    const l = open();
    if (!l) throw new KeyringError(ENOSYS, "add_key");
    const sys = SYSCALLS[Deno.build.arch];
    const id = l.add_key(
      sys.addKey,
      cString("user"),
      cString(description),
      payload as Uint8Array<ArrayBuffer>,
      BigInt(payload.length),
      BigInt(KEY_SPEC_PROCESS_KEYRING),
    );
    if (id < 0n) fail("add_key");
    const key = new ProcessKey(id, payload.length);
    try {
      if (l.keyctl(sys.keyctl, BigInt(KEYCTL_SETPERM), id, BigInt(POSSESSOR_ONLY), 0n) < 0n) {
        fail("keyctl(SETPERM)");
      }
      if (timeoutSeconds !== undefined) key.setTimeout(timeoutSeconds);
    } catch (e) {
      key.destroy();
      throw e;
    }
    return key;
  }

  /** The kernel's serial number of the key. */
  get id(): bigint {
    return this.#id;
  }

  /** Payload length in bytes. */
  get length(): number {
    return this.#length;
  }

  /**
   * Copies the payload into `out` (at least {@link length} bytes; pass locked memory). Throws
   * {@link KeyringError} (EKEYEXPIRED after the timeout, EKEYREVOKED after {@link destroy}).
   */
  readInto(out: Uint8Array): void {
    const l = open();
    if (!l || this.#gone) throw new KeyringError(EKEYREVOKED, "keyctl(READ)");
    if (out.length < this.#length) throw new RangeError("buffer shorter than the key");
    const n = l.keyctl_read(
      SYSCALLS[Deno.build.arch].keyctl,
      BigInt(KEYCTL_READ),
      this.#id,
      out as Uint8Array<ArrayBuffer>,
      BigInt(out.length),
    );
    if (n < 0n) fail("keyctl(READ)");
    if (Number(n) !== this.#length) throw new KeyringError(EBADMSG, "keyctl(READ)");
  }

  /** Sets (or with 0, clears) the expiry, counted from now. */
  setTimeout(seconds: number): void {
    const l = open();
    if (!l) throw new KeyringError(ENOSYS, "keyctl(SET_TIMEOUT)");
    const s = BigInt(Math.max(0, Math.ceil(seconds)));
    const r = l.keyctl(
      SYSCALLS[Deno.build.arch].keyctl,
      BigInt(KEYCTL_SET_TIMEOUT),
      this.#id,
      s,
      0n,
    );
    if (r < 0n) fail("keyctl(SET_TIMEOUT)");
  }

  /**
   * Invalidates the key: the kernel unlinks it and frees (and zeroes) its payload. Falls back
   * to revoking it (payload unreadable from then on). Idempotent, never throws.
   */
  destroy(): void {
    if (this.#gone) return;
    this.#gone = true;
    const l = open();
    if (!l) return;
    const sys = SYSCALLS[Deno.build.arch].keyctl;
    if (l.keyctl(sys, BigInt(KEYCTL_INVALIDATE), this.#id, 0n, 0n) < 0n) {
      l.keyctl(sys, BigInt(KEYCTL_REVOKE), this.#id, 0n, 0n);
    }
  }
}
