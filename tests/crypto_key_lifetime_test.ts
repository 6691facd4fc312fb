/**
 * How long keys live and where: key pages inaccessible between uses, the kernel keyring entry
 * (possessor only, expiry), keys wiped when idle and read back identical, and a hardened
 * process that dumps no core. Real syscalls; the core dump test needs a core_pattern that
 * writes a plain file and is skipped otherwise.
 */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { SecretBuffer, secretMemoryAvailable } from "../ffi/memory.ts";
import { keyringAvailable, KeyringError, ProcessKey } from "../ffi/keyring.ts";
import { KeysUnavailableError, StoreKeys } from "../src/store/keys.ts";
import { deriveSubkeys, hkdf } from "../src/crypto/subkeys.ts";
import { concat, u64le } from "../src/util/codec.ts";
import { parseCommandLine } from "../src/cli/args.ts";
import { parseDuration } from "../src/cli/duration.ts";
import { UsageError } from "../src/cli/errors.ts";
import { rencfs } from "./cli_helpers.ts";

const linux = Deno.build.os === "linux";

/** The permissions column of the /proc/self/maps line that covers `bytes`. */
function permsOf(bytes: Uint8Array): string {
  const addr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
  for (const line of Deno.readTextFileSync("/proc/self/maps").split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+)/.exec(line);
    if (m && BigInt(`0x${m[1]}`) <= addr && addr < BigInt(`0x${m[2]}`)) return m[3];
  }
  throw new Error("address not mapped");
}

Deno.test({
  name: "SecretBuffer.noAccess makes the key page PROT_NONE; use() opens it only for the call",
  ignore: !linux || !secretMemoryAvailable(),
  fn: () => {
    const b = SecretBuffer.alloc(32);
    b.bytes.fill(9);
    const view = b.bytes;
    b.noAccess();
    assertEquals(permsOf(view), "---p");
    const sum = b.use((k) => {
      assertEquals(permsOf(k), "rw-p");
      return k.reduce((a, x) => a + x, 0);
    });
    assertEquals(sum, 9 * 32);
    assertEquals(permsOf(view), "---p");
    throws(() =>
      b.use(() => {
        throw new Error("inside");
      }), /inside/);
    assertEquals(permsOf(view), "---p", "protected again after a throw");
    b.dispose(); // must make it writable to zero it: no SIGSEGV
    assert(b.disposed);
  },
});

Deno.test({
  name: "keyring: a process key is possessor-only, readable back, expires, and is destroyed",
  ignore: !keyringAvailable(),
  fn: async () => {
    const payload = crypto.getRandomValues(new Uint8Array(32));
    const key = ProcessKey.add("rencfs:test", payload);
    try {
      const out = new Uint8Array(32);
      key.readInto(out);
      assertEquals(out, payload);
      const line = Deno.readTextFileSync("/proc/keys").split("\n")
        .find((l) => l.startsWith(key.id.toString(16).padStart(8, "0")));
      assert(line, "listed in /proc/keys");
      assertEquals(line.split(/\s+/)[4], "2b000000", "possessor view/read/search/setattr only");
      // Another process (same user, root here) does not possess it: it cannot read it.
      const other = await new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `import { ProcessKey } from ${JSON.stringify(import.meta.resolve("../ffi/keyring.ts"))};
           const l = Deno.dlopen("libc.so.6", { syscall: { parameters: ["i64", "i64", "i64",
             "buffer", "usize"], result: "i64" } });
           const r = l.symbols.syscall(250n, 11n, ${key.id}n, new Uint8Array(64), 64n);
           console.log(String(r)); void ProcessKey;`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (Deno.build.arch === "x86_64") {
        assertEquals(new TextDecoder().decode(other.stdout).trim(), "-1", "other process refused");
      }
    } finally {
      key.destroy();
    }
    throws(() => key.readInto(new Uint8Array(32)), KeyringError);

    const brief = ProcessKey.add("rencfs:test-expiry", payload, 1);
    await new Promise((r) => setTimeout(r, 2100));
    throws(() => brief.readInto(new Uint8Array(32)), /EKEYEXPIRED/);
    brief.destroy();
  },
});

Deno.test({
  name: "StoreKeys idle: every process copy wiped, read back identical from the keyring",
  ignore: !keyringAvailable() || !secretMemoryAvailable(),
  fn: async () => {
    const master = crypto.getRandomValues(new Uint8Array(32));
    const sub = deriveSubkeys(master);
    const keys = StoreKeys.derive(master.slice(), "chacha20-poly1305", { idleMs: 150 });
    try {
      assert(keys.idleWipe);
      const fileId = crypto.getRandomValues(new Uint8Array(16));
      const expected = hkdf(sub.content, "rencfs v1 file", concat(u64le(7n), fileId));
      const fk = keys.fileKey(7n, fileId);
      assertEquals(fk, expected);
      keys.releaseFileKey(fk);
      assert(fk.every((b) => b === 0), "released file keys are zeroed");
      const entry = keys.entryName(1n, new TextEncoder().encode("a name"));
      const meta = await keys.metaAead.seal(
        await keys.metaKey(new Uint8Array(8)),
        new Uint8Array(12),
        new Uint8Array(5),
        new Uint8Array(0),
      );
      assert(!keys.dormant);
      await new Promise((r) => setTimeout(r, 500));
      assert(keys.dormant, "wiped after the idle time");
      assert(keys.idleWipes >= 1);
      // Read back: the same keys.
      assertEquals(keys.entryName(1n, new TextEncoder().encode("a name")), entry);
      assertEquals(keys.objectName(99n), keys.objectName(99n));
      const again = await keys.metaAead.seal(
        await keys.metaKey(new Uint8Array(8)),
        new Uint8Array(12),
        new Uint8Array(5),
        new Uint8Array(0),
      );
      assertEquals(again, meta);
      const fk2 = keys.fileKey(7n, fileId);
      assertEquals(fk2, expected);
      keys.releaseFileKey(fk2);
      assert(!keys.dormant);
    } finally {
      keys.wipe();
    }
    throws(() => keys.entryName(1n, new Uint8Array(1)), KeysUnavailableError);
  },
});

Deno.test({
  name: "StoreKeys without an idle time keep their keys (no timer, no keyring entry)",
  fn: async () => {
    const keys = StoreKeys.derive(new Uint8Array(32).fill(1), "chacha20-poly1305");
    try {
      assertEquals(keys.idleWipe, false);
      keys.wipeIdle(); // a no-op without a keyring copy
      assert(!keys.dormant);
      await new Promise((r) => setTimeout(r, 50));
      assertEquals(keys.entryName(1n, new Uint8Array([1])).length > 0, true);
    } finally {
      keys.wipe();
    }
  },
});

// A plain core_pattern ("core", "core.%p", …) writes into the crashing process's cwd.
function plainCorePattern(): boolean {
  try {
    const p = Deno.readTextFileSync("/proc/sys/kernel/core_pattern").trim();
    return linux && p !== "" && !p.startsWith("|") && !p.includes("/");
  } catch {
    return false;
  }
}

/** Runs deno code that aborts itself, with cores allowed; returns the files left in cwd. */
async function abortIn(dir: string, harden: boolean): Promise<string[]> {
  const harden_ = JSON.stringify(import.meta.resolve("../ffi/harden.ts"));
  const code = `
    // A tiny core if one is written at all: leave out every kind of mapping.
    Deno.writeTextFileSync("/proc/self/coredump_filter", "0");
    ${harden ? `const { hardenProcess } = await import(${harden_}); hardenProcess();` : ""}
    Deno.kill(Deno.pid, "SIGABRT");
    await new Promise((r) => setTimeout(r, 5000));`;
  const out = await new Deno.Command("bash", {
    args: ["-c", `ulimit -c unlimited && exec "$0" eval "$1"`, Deno.execPath(), code],
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  // It really got that far (a failed import would end it without a signal, and without a core).
  assertEquals(out.signal, "SIGABRT", new TextDecoder().decode(out.stderr));
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.filter((n) => n.startsWith("core"));
}

Deno.test({
  name: "a hardened process dumps no core on SIGABRT (an unhardened one does)",
  ignore: !plainCorePattern(),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "rencfs-core-" });
    try {
      const control = await abortIn(dir, false);
      if (control.length === 0) {
        console.log("no core from the unhardened control either: cores are off here, skipped");
        return;
      }
      for (const n of control) await Deno.remove(`${dir}/${n}`);
      assertEquals(await abortIn(dir, true), [], "no core file from the hardened process");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("mount --key-idle: durations parse, default 10m, off disables, junk is a usage error", () => {
  const idle = (...extra: string[]) => {
    const inv = parseCommandLine(["mount", "-m", "/mnt/x", "-d", "/data/x", ...extra]);
    assert(inv.kind === "run" && inv.args.command === "mount");
    return inv.args.keyIdleMs;
  };
  assertEquals(idle(), 10 * 60_000);
  assertEquals(idle("--key-idle", "90s"), 90_000);
  assertEquals(idle("--key-idle", "2m"), 120_000);
  assertEquals(idle("--key-idle", "500ms"), 500);
  assertEquals(idle("--key-idle", "off"), 0);
  assertEquals(idle("--key-idle", "0"), 0);
  throws(() => idle("--key-idle", "soon"), UsageError);
  assertEquals(parseDuration("1h"), 3_600_000);
  assertEquals(parseDuration("-5s"), undefined);
});

Deno.test("--password-file readable by others draws a warning; a 0600 one does not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rencfs-pwfile-" });
  try {
    const file = `${dir}/pw`;
    await Deno.writeTextFile(file, "a password in a file\n");
    const init = async (mode: number, data: string) => {
      await Deno.chmod(file, mode);
      return await rencfs([
        "init",
        "-d",
        `${dir}/${data}`,
        "--password-file",
        file,
        "--recovery-code-file",
        "-",
      ]);
    };
    const shared = await init(0o644, "d1");
    assertEquals(shared.code, 0, shared.stderr);
    assert(/readable by every user \(mode 644\)/.test(shared.stderr), shared.stderr);
    const group = await init(0o640, "d2");
    assert(/readable by its group/.test(group.stderr), group.stderr);
    const own = await init(0o600, "d3");
    assertEquals(own.code, 0, own.stderr);
    assert(!/readable by/.test(own.stderr), own.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "StoreKeys.entryName answers remembered names exactly as it derives them",
  fn: () => {
    const master = new Uint8Array(32).fill(7);
    const keys = StoreKeys.derive(master.slice(), "chacha20-poly1305");
    const fresh = () => StoreKeys.derive(master.slice(), "chacha20-poly1305");
    const enc = (s: string) => new TextEncoder().encode(s);
    try {
      // Same name under two parents, a name and its prefix, more names than are remembered,
      // then all of them again in another order.
      const asked: [bigint, string][] = [
        [1n, "a"],
        [2n, "a"],
        [1n, "ab"],
        [1n, "b"],
        [3n, "c"],
        [4n, "d"],
        [5n, "e"],
      ];
      const first = asked.map(([d, n]) => keys.entryName(d, enc(n)));
      assertEquals(new Set(first).size, asked.length, "distinct names");
      const again = [...asked].reverse().map(([d, n]) => keys.entryName(d, enc(n))).reverse();
      assertEquals(again, first);
      // The caller's buffer changing afterwards does not change what is remembered.
      const buf = enc("x");
      const x = keys.entryName(9n, buf);
      buf[0] = 0x79; // "y"
      assertEquals(keys.entryName(9n, buf), keys.entryName(9n, enc("y")));
      assertEquals(keys.entryName(9n, enc("x")), x);
      const other = fresh();
      try {
        assertEquals(asked.map(([d, n]) => other.entryName(d, enc(n))), first);
        assertEquals(other.entryName(9n, enc("y")), keys.entryName(9n, enc("y")));
      } finally {
        other.wipe();
      }
    } finally {
      keys.wipe();
    }
  },
});
