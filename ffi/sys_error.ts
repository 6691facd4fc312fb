/**
 * The one error type of the OS boundary: a failed system call, with its errno.
 *
 * It has the fields the rest of the code already tests on errors of `node:fs` and of
 * `Deno.errors.*`: `code` (the errno name, `"ENOENT"`), so one check `e.code === "ENOENT"` holds
 * for all three. Unlike `node:fs` (whose `errno` is negative), `errno` is the positive number, as
 * in C and in `FsError`.
 *
 * @module
 */

import { constants } from "node:os";

/**
 * errno value → name (`2` → `"ENOENT"`): the runtime's table, with the Linux names it lacks (the
 * keyring's) and, for aliases, the name the rest of the code tests (`EOPNOTSUPP`, `EAGAIN`).
 */
const NAMES: ReadonlyMap<number, string> = (() => {
  const m = new Map<number, string>([
    [11, "EAGAIN"],
    [95, "EOPNOTSUPP"],
    [126, "ENOKEY"],
    [127, "EKEYEXPIRED"],
    [128, "EKEYREVOKED"],
    [129, "EKEYREJECTED"],
  ]);
  for (const [name, n] of Object.entries(constants.errno)) if (!m.has(n)) m.set(n, name);
  return m;
})();

/** The errno name of `errno` (`ENOENT` …), or `E<number>` for one the runtime does not name. */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  return NAMES.get(n) ?? `E${n}`;
}

/** A system call failed: `errno` (positive), its name in `code`, the call and the path, if any. */
export class SysError extends Error {
  override name = "SysError";
  /** The errno name (`"ENOENT"` …), as `node:fs` and `Deno.errors.*` errors carry it. */
  readonly code: string;

  /** `message` defaults to `CODE: syscall 'path'`. */
  constructor(
    readonly errno: number,
    readonly syscall: string,
    readonly path?: string,
    message?: string,
  ) {
    const code = errnoName(errno);
    super(message ?? `${code}: ${syscall}${path === undefined ? "" : ` '${path}'`}`);
    this.code = code;
  }
}

/**
 * A {@link SysError} for a `-errno` result (the convention of `ffi/sysio.ts`, whose hot calls
 * return instead of throwing). A positive number is taken as the errno itself.
 */
export function sysError(negErrno: number, syscall: string, path?: string): SysError {
  return new SysError(Math.abs(negErrno), syscall, path);
}

/**
 * The errno name of an OS error of any of the runtime's shapes: a {@link SysError}, a `node:fs`
 * error or one of `Deno.errors.*` (all carry `code`); undefined for anything else.
 */
export function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}
