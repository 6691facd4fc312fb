/** Errno values (Linux x86_64) used by the filesystem API, and the error type that carries them. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  EMLINK: 31,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EOPNOTSUPP: 95,
  EDQUOT: 122,
} as const;

/** Name of an errno value, e.g. `"ENOENT"`. */
export type ErrnoName = keyof typeof Errno;

/** An error with a POSIX errno: every filesystem operation fails with one of these. */
export class FsError extends Error {
  readonly errno: number;
  readonly code: ErrnoName;
  constructor(code: ErrnoName, message?: string, options?: ErrorOptions) {
    super(message ? `${code}: ${message}` : code, options);
    this.name = "FsError";
    this.code = code;
    this.errno = Errno[code];
  }
}

/** Shorthand: `throw fsError("ENOENT", "no such entry")`. */
export function fsError(code: ErrnoName, message?: string, options?: ErrorOptions): FsError {
  return new FsError(code, message, options);
}

/** Maps a Node/Deno I/O error (ENOSPC, EDQUOT, EROFS …) to an FsError; anything else is EIO. */
export function fromIoError(e: unknown, what: string): FsError {
  if (e instanceof FsError) return e;
  const code = (e as { code?: string })?.code;
  if (code && code in Errno) return new FsError(code as ErrnoName, what, { cause: e });
  if (e instanceof Deno.errors.NotFound) return new FsError("ENOENT", what, { cause: e });
  if (e instanceof Deno.errors.AlreadyExists) return new FsError("EEXIST", what, { cause: e });
  return new FsError("EIO", `${what}: ${(e as Error)?.message ?? e}`, { cause: e });
}

/**
 * Throws EINVAL unless `n` is an integer ≥ 0: offsets, lengths and sizes from library callers as
 * well as the kernel, so that a negative, fractional or non-number value never reaches a record.
 */
export function checkOffset(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw fsError("EINVAL");
}
