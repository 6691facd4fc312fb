/**
 * The process's environment block as libc holds it, for wiping secrets from it.
 *
 * @module
 */
import { cString, libcIfAvailable } from "./libc.ts";

/**
 * Overwrites the value of environment variable `name` with zeros where the process's
 * environment block holds it (which `/proc/PID/environ` shows, and `unsetenv` alone leaves in
 * place). Best effort: false when it could not (no FFI, no such variable).
 */
export function zeroEnvValue(name: string): boolean {
  const c = libcIfAvailable();
  if (!c) return false;
  const p = c.getenv(cString(name));
  if (p === null) return false;
  const len = Number(c.strlen(p));
  if (len > 0) new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, len)).fill(0);
  return true;
}
