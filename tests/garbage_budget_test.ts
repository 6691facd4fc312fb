/**
 * Dead buffers of chunk crypto are collected as they pile up, not once V8 notices them: a
 * `node:crypto` call leaves a chunk-sized result behind a few KiB of objects, and V8's own
 * schedule let 50–80 MiB of them accumulate per thread. Runs in a child with the mount's V8
 * flags (`--expose-gc` is what lets a thread collect on demand).
 */
import { assert } from "./cli_helpers.ts";
import { V8_FLAGS } from "../src/cli/daemon.ts";
import { GARBAGE_BUDGET } from "../src/util/garbage.ts";

const MiB = 1 << 20;

/** Seals and opens `rounds` 64 KiB chunks; reports the peak of V8's external memory. */
const CHILD = `
import { singleChunkAead } from "${new URL("../src/crypto/direct_aead.ts", import.meta.url)}";
import { garbageCollections } from "${new URL("../src/util/garbage.ts", import.meta.url)}";
const a = singleChunkAead("xchacha20-poly1305");
const key = new Uint8Array(32).fill(7), nonce = new Uint8Array(24), ad = new Uint8Array(48);
const pt = new Uint8Array(65536).fill(1), sealed = new Uint8Array(65536 + 16);
const back = new Uint8Array(65536);
let peak = 0;
for (let i = 0; i < 3000; i++) {
  a.sealInto(key, nonce, pt, ad, sealed, 0);
  if (!a.openInto(key, nonce, sealed, ad, back, 0)) throw new Error("did not open");
  if (i % 16 === 0) peak = Math.max(peak, Deno.memoryUsage().external);
}
console.log(JSON.stringify({ peak, collections: garbageCollections() }));
`;

Deno.test("chunk crypto garbage is collected every few MiB, not tens of MiB", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", `--v8-flags=${V8_FLAGS}`, CHILD],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert(out.success, err);
  const { peak, collections } = JSON.parse(new TextDecoder().decode(out.stdout));
  // 375 MiB of results went by: collected all along, they never held more than a few budgets.
  assert(collections >= 10, `only ${collections} collections`);
  assert(peak < 3 * GARBAGE_BUDGET, `external memory peaked at ${Math.round(peak / MiB)} MiB`);
});
