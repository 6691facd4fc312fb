import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { argon2id as nobleArgon2id } from "@noble/hashes/argon2.js";
import {
  checkKdfParams,
  DEFAULT_KDF_COST,
  deriveKek,
  InvalidKdfParamsError,
  type KdfParams,
  passwordBytes,
} from "../src/crypto/kdf.ts";
import { randomBytes } from "../src/crypto/random.ts";
import { toHex } from "../src/crypto/vectors.ts";

const enc = new TextEncoder();
const SMALL = { algorithm: "argon2id", memoryKiB: 8192, iterations: 1, parallelism: 1 } as const;

Deno.test("argon2id known answer (reference argon2 CLI: -id -v 13 -k 8192 -t 2 -p 1)", async () => {
  const kek = await deriveKek(enc.encode("123"), {
    ...SMALL,
    iterations: 2,
    salt: enc.encode("ABCDEFGHIJKLMNOP"),
  });
  assertEquals(toHex(kek), "3ee950488d26ce691657b1d753f562139857b61a58f234d6cb0ce84c4cc27328");
});

Deno.test("argon2id: hash-wasm agrees with @noble/hashes", async () => {
  for (const p of [1, 2]) {
    const salt = randomBytes(16);
    const pw = randomBytes(20);
    const ours = await deriveKek(pw, { ...SMALL, parallelism: p, salt });
    const ref = nobleArgon2id(pw, salt, { t: 1, m: 8192, p, dkLen: 32 });
    assertEquals(toHex(ours), toHex(ref));
  }
});

Deno.test("argon2id: absurd parameters are refused before any work", async () => {
  const salt = randomBytes(16);
  const bad: Array<Record<string, unknown>> = [
    { memoryKiB: 4096 },
    { memoryKiB: 4 * 1024 * 1024 + 1 },
    { memoryKiB: 2 ** 40 },
    { memoryKiB: 8192.5 },
    { memoryKiB: NaN },
    { iterations: 0 },
    { iterations: 101 },
    { iterations: 1e9 },
    { parallelism: 0 },
    { parallelism: 17 },
    { salt: new Uint8Array(8) },
    { salt: new Uint8Array(65) },
    { algorithm: "argon2i" },
    { memoryKiB: "65536" },
  ];
  for (const b of bad) {
    const params = { ...SMALL, salt, ...b } as unknown as KdfParams;
    assert(
      (() => {
        try {
          checkKdfParams(params);
          return false;
        } catch (e) {
          return e instanceof InvalidKdfParamsError;
        }
      })(),
      JSON.stringify(b),
    );
    await rejects(() => deriveKek(enc.encode("pw"), params), InvalidKdfParamsError);
  }
  // The limits themselves are accepted.
  checkKdfParams({ ...SMALL, salt });
  checkKdfParams({ ...SMALL, iterations: 100, parallelism: 16, salt: new Uint8Array(64) });
});

Deno.test("passwords: NFC-normalized UTF-8, empty refused", async () => {
  assertEquals(toHex(passwordBytes("caf\u00e9")), toHex(passwordBytes("cafe\u0301")));
  assertEquals(toHex(passwordBytes("pässword")), toHex(enc.encode("pässword")));
  assert((() => {
    try {
      passwordBytes("");
      return false;
    } catch {
      return true;
    }
  })());
  await rejects(() => deriveKek(new Uint8Array(0), { ...SMALL, salt: randomBytes(16) }));
});

Deno.test("argon2id at the default cost (64 MiB, t=3, p=1): time to unlock", async () => {
  const params = { algorithm: "argon2id", ...DEFAULT_KDF_COST, salt: randomBytes(16) } as const;
  const t0 = performance.now();
  const kek = await deriveKek(enc.encode("correct horse battery staple"), params);
  const ms = performance.now() - t0;
  assertEquals(kek.length, 32);
  console.log(`    argon2id default cost: ${ms.toFixed(0)} ms`);
  assert(ms < 10_000, "default KDF cost takes more than 10 s to unlock");
});
