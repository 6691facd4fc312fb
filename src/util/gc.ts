/**
 * A full garbage collection on demand, for a daemon that has gone idle. V8 collects when
 * allocation pushes it to, so the garbage of the last burst of work (chunk-sized ArrayBuffers,
 * the inodes of a deleted tree) stays resident while nothing runs (tens of MiB after a
 * streaming read; docs/performance.md, "Choices in the code").
 *
 * `gc` is exposed by a V8 flag, which can be set at run time but only reaches contexts created
 * afterwards: `node:vm` makes one to take it from. A full collection stops the thread for
 * milliseconds, so callers run it once per idle spell, not on a timer. Where the runtime does not allow it, nothing is
 * done.
 */
import v8 from "node:v8";
import vm from "node:vm";

let collect: (() => void) | null | undefined;

/** Runs a full collection (see above). */
export function collectGarbage(): void {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString("--expose-gc");
      const gc: unknown = vm.runInNewContext("typeof gc === 'function' ? gc : null");
      collect = typeof gc === "function" ? () => gc() : null;
    } catch {
      collect = null;
    }
  }
  collect?.();
}
