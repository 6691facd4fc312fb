import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { SecretBuffer, secretMemoryAvailable } from "../ffi/memory.ts";

const deno = Deno.execPath();
const memoryModule = new URL("../ffi/memory.ts", import.meta.url).href;

Deno.test("SecretBuffer: zeroed, mapped, locked (with FFI)", () => {
  assert(secretMemoryAvailable(), "tests run with -A, so FFI must be available");
  const b = SecretBuffer.alloc(100);
  assertEquals(b.bytes.length, 100);
  assert(b.bytes.every((x) => x === 0));
  assert(b.mapped);
  // As root (CAP_IPC_LOCK) one page always locks; others depend on `ulimit -l`.
  if (Deno.uid() === 0) assert(b.locked);
  b.bytes.fill(0xa5);
  assertEquals(b.bytes[99], 0xa5);
  b.dispose();
});

Deno.test("SecretBuffer.dispose: detaches (no SIGSEGV), idempotent", () => {
  const b = SecretBuffer.alloc(32);
  const view = b.bytes;
  view.fill(7);
  b.dispose();
  assert(b.disposed);
  assertEquals(b.locked, false);
  assertEquals(b.bytes.length, 0);
  // The old view is detached: reading it yields undefined instead of touching unmapped memory.
  assertEquals(view.length, 0);
  assertEquals(view[0], undefined);
  b.dispose();
  throws(() => b.makeReadOnly());
});

Deno.test("SecretBuffer: sizes 0, one page, several pages; takeFrom zeroes the source", () => {
  for (const n of [0, 1, 4096, 4097, 100_000]) {
    const b = SecretBuffer.alloc(n);
    assertEquals(b.bytes.length, n);
    if (n) b.bytes[n - 1] = 1;
    b.dispose();
  }
  const src = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const b = SecretBuffer.takeFrom(src);
  assert(src.every((x) => x === 0));
  assertEquals(b.bytes[31], 32);
  b.dispose();
  throws(() => SecretBuffer.alloc(-1));
  throws(() => SecretBuffer.alloc(1.5));
});

Deno.test("SecretBuffer.makeReadOnly: still readable, and dispose still zeroes", () => {
  const b = SecretBuffer.alloc(16);
  b.bytes[0] = 42;
  b.makeReadOnly();
  assertEquals(b.bytes[0], 42);
  b.dispose();
});

Deno.test("SecretBuffer: `using` disposes", () => {
  let view: Uint8Array;
  {
    using b = SecretBuffer.alloc(8);
    view = b.bytes;
    view[0] = 1;
  }
  assertEquals(view.length, 0);
});

async function runChild(args: string[], prefix: string[] = []): Promise<string> {
  const script = `import { SecretBuffer, secretMemoryAvailable } from ${
    JSON.stringify(memoryModule)
  };
const small = SecretBuffer.alloc(32);
const big = SecretBuffer.alloc(16 << 20);
big.bytes.fill(1);
const v = small.bytes; v.fill(9);
console.log(JSON.stringify({ ffi: secretMemoryAvailable(), small: small.locked, big: big.locked,
  mapped: big.mapped }));
small.dispose(); big.dispose();
if (v.length !== 0 && v.some((x) => x !== 0)) throw new Error("not zeroed");`;
  // `deno run` of a file, not `deno eval` (which grants every permission).
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, script);
    const denoArgs = ["run", "--no-config", ...args, file];
    const cmd = prefix.length ? prefix[0] : deno;
    const cmdArgs = prefix.length ? [...prefix.slice(1), deno, ...denoArgs] : denoArgs;
    const out = await new Deno.Command(cmd, { args: cmdArgs, stdout: "piped", stderr: "piped" })
      .output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim();
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("SecretBuffer without --allow-ffi: ordinary memory, still zeroed", async () => {
  const r = JSON.parse(await runChild([]));
  assertEquals(r, { ffi: false, small: false, big: false, mapped: false });
});

Deno.test({
  name: "SecretBuffer when mlock fails (RLIMIT_MEMLOCK): mapped but locked=false",
  ignore: Deno.uid() !== 0,
  async fn() {
    // Drop CAP_IPC_LOCK (root ignores the limit otherwise) and set a 64 KiB limit.
    let r: { ffi: boolean; small: boolean; big: boolean; mapped: boolean };
    try {
      r = JSON.parse(
        await runChild(["--allow-ffi"], [
          "setpriv",
          "--inh-caps=-ipc_lock",
          "--bounding-set=-ipc_lock",
          "prlimit",
          "--memlock=65536:65536",
        ]),
      );
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return; // no setpriv/prlimit: nothing to test
      throw e;
    }
    assertEquals(r, { ffi: true, small: true, big: false, mapped: true });
  },
});
