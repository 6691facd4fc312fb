/** The two assertions the tests use, over node:assert (JSR's @std/assert is out of reach). */
import { deepStrictEqual, rejects } from "node:assert/strict";

/** Deep strict equality, with a message on failure. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  deepStrictEqual(actual, expected, message);
}

/** The promise returned by `fn` rejects, and `check` accepts the error. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  check: (e: unknown) => boolean,
): Promise<void> {
  await rejects(fn, (e: unknown) => check(e));
}
