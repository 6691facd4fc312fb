import {
  deepStrictEqual as assertEquals,
  notDeepStrictEqual as assertNotEquals,
  ok as assert,
  rejects,
  throws,
} from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  checkMasterKey,
  createKeyFile,
  DamagedKeyFileError,
  FORMAT_VERSION,
  InvalidRecoveryCodeError,
  type KeyFileHeader,
  NotADataDirError,
  parseKeyFile,
  rewrapKeyFile,
  unlockKeyFile,
  UnsupportedFormatError,
  WrongPasswordError,
} from "../src/store/keyfile.ts";
import { DEFAULT_KDF_COST } from "../src/crypto/kdf.ts";
import type { CipherName } from "../src/crypto/aead.ts";
import { toHex } from "../src/crypto/vectors.ts";

const SMALL = { memoryKiB: 8192, iterations: 1, parallelism: 1 };
const PASSWORD = "correct horse battery staple";
const dec = new TextDecoder();
const enc = new TextEncoder();

// One key file shared by the read-only tests (Argon2 at 8 MiB is cheap, but not free).
const made = await createKeyFile(PASSWORD, {
  cipher: "chacha20-poly1305",
  chunkSize: 262144,
  kdfCost: SMALL,
});

type Obj = Record<string, unknown>;

// An independent implementation of the documented checksum, to forge "consistent" edits.
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Obj;
    return `{${
      Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")
    }}`;
  }
  return JSON.stringify(v);
}

function withChecksum(obj: Obj): Uint8Array {
  const rest = { ...obj };
  delete rest.checksum;
  const checksum = createHash("sha256").update(canonical(rest)).digest("hex");
  return enc.encode(JSON.stringify({ ...rest, checksum }, null, 2) + "\n");
}

function edit(bytes: Uint8Array, f: (o: Obj) => void, recompute = true): Uint8Array {
  const o = JSON.parse(dec.decode(bytes)) as Obj;
  f(o);
  return recompute ? withChecksum(o) : enc.encode(JSON.stringify(o, null, 2));
}

async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return e;
  }
  return undefined;
}

Deno.test("create: file layout, header, master key, recovery code", () => {
  const o = JSON.parse(dec.decode(made.bytes)) as Obj;
  assertEquals(Object.keys(o), [
    "format",
    "version",
    "cipher",
    "chunkSize",
    "created",
    "kdf",
    "wrappedKey",
    "keyCheck",
    "checksum",
  ]);
  assertEquals(o.format, "rencfs");
  assertEquals(o.version, FORMAT_VERSION);
  assertEquals(o.cipher, "chacha20-poly1305");
  assertEquals(o.chunkSize, 262144);
  const kdf = o.kdf as Obj;
  assertEquals(Object.keys(kdf), ["algorithm", "memoryKiB", "iterations", "parallelism", "salt"]);
  assertEquals([kdf.memoryKiB, kdf.iterations, kdf.parallelism], [8192, 1, 1]);
  assert(dec.decode(made.bytes).startsWith('{\n  "format": "rencfs",\n'));
  assert(dec.decode(made.bytes).endsWith("}\n"));
  assertEquals(made.masterKey.length, 32);
  assertEquals(made.header.version, FORMAT_VERSION);
  assertEquals(made.header.kdf.salt.length, 16);
  assert(!Number.isNaN(Date.parse(made.header.created)));
  assert(/^([0-9A-Z]{4}-){13}[0-9A-Z]{4}$/.test(made.recoveryCode));
  const h = parseKeyFile(made.bytes);
  assertEquals({ ...h, kdf: { ...h.kdf, salt: toHex(h.kdf.salt) } }, {
    ...made.header,
    kdf: { ...made.header.kdf, salt: toHex(made.header.kdf.salt) },
  });
});

Deno.test("unlock with the password, and with the recovery code", async () => {
  const a = await unlockKeyFile(made.bytes, { password: PASSWORD });
  assertEquals(toHex(a.masterKey), toHex(made.masterKey));
  assertEquals(a.header.chunkSize, 262144);
  const b = await unlockKeyFile(made.bytes, { recoveryCode: made.recoveryCode.toLowerCase() });
  assertEquals(toHex(b.masterKey), toHex(made.masterKey));
  assert(checkMasterKey(made.bytes, made.masterKey));
  assert(!checkMasterKey(made.bytes, new Uint8Array(32)));
});

Deno.test("wrong password -> WrongPasswordError; empty password refused", async () => {
  await rejects(() => unlockKeyFile(made.bytes, { password: PASSWORD + "!" }), WrongPasswordError);
  await rejects(() => unlockKeyFile(made.bytes, { password: "" }), WrongPasswordError);
  await rejects(
    () => createKeyFile("", { cipher: "chacha20-poly1305", chunkSize: 4096, kdfCost: SMALL }),
    RangeError,
  );
});

Deno.test("passwords are NFC-normalized", async () => {
  const k = await createKeyFile("caf\u00e9", {
    cipher: "xchacha20-poly1305",
    chunkSize: 4096,
    kdfCost: SMALL,
  });
  const u = await unlockKeyFile(k.bytes, { password: "cafe\u0301" });
  assertEquals(toHex(u.masterKey), toHex(k.masterKey));
});

Deno.test("recovery code: typo -> InvalidRecoveryCodeError; other dir's code -> WrongPassword", async () => {
  const c = made.recoveryCode;
  const typo = (c[0] === "A" ? "B" : "A") + c.slice(1);
  await rejects(() => unlockKeyFile(made.bytes, { recoveryCode: typo }), InvalidRecoveryCodeError);
  await rejects(
    () => unlockKeyFile(made.bytes, { recoveryCode: c.slice(0, -2) }),
    InvalidRecoveryCodeError,
  );
  const other = await createKeyFile("x", {
    cipher: "aes-256-gcm",
    chunkSize: 65536,
    kdfCost: SMALL,
  });
  await rejects(
    () => unlockKeyFile(made.bytes, { recoveryCode: other.recoveryCode }),
    WrongPasswordError,
  );
});

Deno.test("flipping any bit pattern of any byte never unlocks", async () => {
  const counts = { damaged: 0, wrong: 0 };
  for (let i = 0; i < made.bytes.length; i++) {
    for (const mask of [0x01, 0x02, 0x20, 0x80]) {
      const b = made.bytes.slice();
      b[i] ^= mask;
      for (const secret of [{ password: PASSWORD }, { recoveryCode: made.recoveryCode }]) {
        const e = await errorOf(unlockKeyFile(b, secret));
        if (e instanceof DamagedKeyFileError) counts.damaged++;
        else if (e instanceof WrongPasswordError) counts.wrong++;
        else throw new Error(`byte ${i} ^ ${mask}: ${e === undefined ? "unlocked!" : e}`);
      }
    }
  }
  assert(counts.damaged > 0);
});

Deno.test("truncation -> DamagedKeyFileError", async () => {
  const text = dec.decode(made.bytes);
  const end = text.trimEnd().length; // trailing whitespace is not content
  for (let n = 0; n < end; n++) {
    const e = await errorOf(unlockKeyFile(made.bytes.subarray(0, n), { password: PASSWORD }));
    assert(e instanceof DamagedKeyFileError, `prefix of ${n} bytes: ${e}`);
    throws(() => parseKeyFile(made.bytes.subarray(0, n)), DamagedKeyFileError);
  }
});

Deno.test("newer version -> UnsupportedFormatError (checksum valid), Damaged otherwise", async () => {
  const v2 = edit(made.bytes, (o) => {
    o.version = 4;
    o.newField = "something a later rencfs added";
  });
  const e = await errorOf(unlockKeyFile(v2, { password: PASSWORD }));
  assert(e instanceof UnsupportedFormatError);
  assertEquals(
    (e as Error).message,
    "made by a newer rencfs: format version 4, this rencfs reads up to 3",
  );
  throws(() => parseKeyFile(edit(made.bytes, (o) => (o.version = 4), false)), DamagedKeyFileError);
});

Deno.test("not a rencfs key file -> NotADataDirError", () => {
  throws(() => parseKeyFile(edit(made.bytes, (o) => (o.format = "gocryptfs"))), NotADataDirError);
  throws(
    () => parseKeyFile(enc.encode('{"Creator":"gocryptfs 2.4","Version":2}')),
    NotADataDirError,
  );
  throws(() => parseKeyFile(edit(made.bytes, (o) => (o.format = "x"), false)), DamagedKeyFileError);
  throws(() => parseKeyFile(new Uint8Array([0, 1, 2, 0xff])), DamagedKeyFileError);
  throws(() => parseKeyFile(new Uint8Array(0)), DamagedKeyFileError);
  throws(() => parseKeyFile(enc.encode("[1,2]")), DamagedKeyFileError);
});

Deno.test("header tampering with the checksum recomputed is refused", async () => {
  const cases: Array<[string, (o: Obj) => void]> = [
    ["chunkSize", (o) => (o.chunkSize = 4096)],
    ["cipher", (o) => (o.cipher = "aes-256-gcm")],
    ["created", (o) => (o.created = "2000-01-01T00:00:00.000Z")],
    ["kdf iterations", (o) => ((o.kdf as Obj).iterations = 2)],
    ["kdf memory", (o) => ((o.kdf as Obj).memoryKiB = 16384)],
  ];
  for (const [what, f] of cases) {
    const b = edit(made.bytes, f);
    parseKeyFile(b); // structurally fine: the checksum is consistent
    for (const secret of [{ password: PASSWORD }, { recoveryCode: made.recoveryCode }]) {
      const e = await errorOf(unlockKeyFile(b, secret));
      assert(
        e instanceof WrongPasswordError || e instanceof DamagedKeyFileError,
        `${what} with ${Object.keys(secret)[0]}: ${e}`,
      );
    }
  }
  // The password unwraps but the header does not authenticate: reported as tampering.
  const created = edit(made.bytes, (o) => (o.created = "2000-01-01T00:00:00.000Z"));
  await rejects(() => unlockKeyFile(created, { password: PASSWORD }), DamagedKeyFileError);
});

Deno.test("malformed or absurd fields (checksum recomputed) -> DamagedKeyFileError, fast", () => {
  const cases: Array<(o: Obj) => void> = [
    (o) => ((o.kdf as Obj).memoryKiB = 2 ** 30),
    (o) => ((o.kdf as Obj).iterations = 1_000_000),
    (o) => ((o.kdf as Obj).parallelism = 0),
    (o) => ((o.kdf as Obj).algorithm = "scrypt"),
    (o) => ((o.kdf as Obj).salt = "AAAA"),
    (o) => ((o.kdf as Obj).salt = "not base64!"),
    (o) => ((o.kdf as Obj).extra = 1),
    (o) => (o.chunkSize = 1000),
    (o) => (o.chunkSize = "262144"),
    (o) => (o.cipher = "rot13"),
    (o) => (o.created = "yesterday"),
    (o) => (o.wrappedKey = (o.wrappedKey as string).slice(4)),
    (o) => (o.keyCheck = "AAAA"),
    (o) => delete o.keyCheck,
    (o) => delete o.kdf,
    (o) => (o.version = 0),
    (o) => (o.version = 1.5),
    (o) => (o.extra = true),
  ];
  const t0 = performance.now();
  for (const f of cases) throws(() => parseKeyFile(edit(made.bytes, f)), DamagedKeyFileError);
  assert(performance.now() - t0 < 1000);
  throws(
    () =>
      parseKeyFile(
        edit(made.bytes, (o) => (o.checksum = (o.checksum as string).toUpperCase()), false),
      ),
    DamagedKeyFileError,
  );
});

Deno.test("whitespace is not content: a reformatted file still unlocks", async () => {
  const compact = enc.encode(JSON.stringify(JSON.parse(dec.decode(made.bytes))));
  const u = await unlockKeyFile(compact, { password: PASSWORD });
  assertEquals(toHex(u.masterKey), toHex(made.masterKey));
});

Deno.test("rewrap: new password works, old fails, same master key and header", async () => {
  const re = await rewrapKeyFile(made.bytes, made.masterKey, "new password");
  await rejects(() => unlockKeyFile(re, { password: PASSWORD }), WrongPasswordError);
  const u = await unlockKeyFile(re, { password: "new password" });
  assertEquals(toHex(u.masterKey), toHex(made.masterKey));
  const h0: KeyFileHeader = made.header;
  const h1 = parseKeyFile(re);
  assertNotEquals(toHex(h1.kdf.salt), toHex(h0.kdf.salt));
  assertEquals(
    { ...h1, kdf: { ...h1.kdf, salt: "" } },
    { ...h0, kdf: { ...h0.kdf, salt: "" } },
  );
  const r = await unlockKeyFile(re, { recoveryCode: made.recoveryCode });
  assertEquals(toHex(r.masterKey), toHex(made.masterKey));
  // The original bytes are untouched and still open with the old password.
  await unlockKeyFile(made.bytes, { password: PASSWORD });
  await rejects(() => rewrapKeyFile(made.bytes, new Uint8Array(32), "x"), WrongPasswordError);
  await rejects(() => rewrapKeyFile(made.bytes, made.masterKey, ""), RangeError);
});

Deno.test("create: bad options are refused", async () => {
  const ok = { cipher: "chacha20-poly1305", chunkSize: 4096, kdfCost: SMALL } as const;
  await rejects(() => createKeyFile("p", { ...ok, chunkSize: 1000 }), RangeError);
  await rejects(() => createKeyFile("p", { ...ok, chunkSize: 0 }), RangeError);
  const des = "des" as unknown as CipherName;
  await rejects(() => createKeyFile("p", { ...ok, cipher: des }), RangeError);
  await rejects(() => createKeyFile("p", { ...ok, kdfCost: { memoryKiB: 1024 } }), RangeError);
  await rejects(() => createKeyFile("p", { ...ok, kdfCost: { iterations: 0 } }), RangeError);
});

Deno.test("default KDF cost: create and unlock time", async () => {
  const t0 = performance.now();
  const k = await createKeyFile(PASSWORD, { cipher: "aes-256-gcm", chunkSize: 262144 });
  const t1 = performance.now();
  const u = await unlockKeyFile(k.bytes, { password: PASSWORD });
  const t2 = performance.now();
  assertEquals(toHex(u.masterKey), toHex(k.masterKey));
  assertEquals(
    [k.header.kdf.memoryKiB, k.header.kdf.iterations, k.header.kdf.parallelism],
    [DEFAULT_KDF_COST.memoryKiB, DEFAULT_KDF_COST.iterations, DEFAULT_KDF_COST.parallelism],
  );
  console.log(`    create ${(t1 - t0).toFixed(0)} ms, unlock ${(t2 - t1).toFixed(0)} ms`);
});
