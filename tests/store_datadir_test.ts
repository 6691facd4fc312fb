// Opening a data dir: passwords, recovery, format versions, and one writer at a time.
import { assertEquals, assertRejects } from "./helpers/assert.ts";
import {
  changePassword,
  DamagedDataDirError,
  DataDirBusyError,
  EncryptedFs,
  initDataDir,
  inspectDataDir,
  NotADataDirError,
  UnsupportedFormatError,
  Vault,
  WrongPasswordError,
} from "../mod.ts";
import { freshFs, PASSWORD, TEST_KDF, walkFiles } from "./helpers/store.ts";
import { FORMAT_VERSION } from "../src/store/keyfile.ts";

async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of await walkFiles(dir)) {
    const h = await crypto.subtle.digest("SHA-256", await Deno.readFile(p));
    out.set(p, [...new Uint8Array(h)].map((b) => b.toString(16).padStart(2, "0")).join(""));
  }
  return out;
}

Deno.test("a wrong password is refused and changes nothing", async () => {
  const { fs, dir } = await freshFs();
  await new Vault(fs).writeTextFile("/a", "x");
  await fs.close();
  const before = await snapshot(dir);
  await assertRejects(
    () => EncryptedFs.open(dir, { password: "wrong" }),
    (e) => e instanceof WrongPasswordError,
  );
  assertEquals(await snapshot(dir), before);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("password change: old refused, new works, data intact; recovery code resets", async () => {
  const { fs, dir, recoveryCode } = await freshFs();
  await new Vault(fs).writeTextFile("/keep", "kept");
  await fs.close();
  await changePassword(dir, { password: PASSWORD }, "new password 1");
  await assertRejects(
    () => EncryptedFs.open(dir, { password: PASSWORD }),
    (e) => e instanceof WrongPasswordError,
  );
  const fs2 = await EncryptedFs.open(dir, { password: "new password 1" });
  assertEquals(await new Vault(fs2).readTextFile("/keep"), "kept");
  await fs2.close();
  // Lost password: the recovery code sets a new one.
  await changePassword(dir, { recoveryCode: recoveryCode.toLowerCase() }, "new password 2");
  const fs3 = await EncryptedFs.open(dir, { password: "new password 2" });
  assertEquals(await new Vault(fs3).readTextFile("/keep"), "kept");
  await fs3.close();
  const fs4 = await EncryptedFs.open(dir, { recoveryCode });
  await fs4.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("init makes a data dir that opens; foreign and newer-format dirs are refused", async () => {
  const dir = await Deno.makeTempDir();
  assertEquals(await inspectDataDir(dir), "empty");
  assertEquals(await inspectDataDir(`${dir}/missing`), "missing");
  await initDataDir(dir, PASSWORD, { kdfCost: TEST_KDF });
  assertEquals(await inspectDataDir(dir), "rencfs");
  const fs = await EncryptedFs.open(dir, { password: PASSWORD });
  assertEquals((await fs.getattr(1n)).nlink, 2);
  await fs.close();

  const foreign = await Deno.makeTempDir();
  await Deno.writeTextFile(`${foreign}/file.txt`, "not ours");
  assertEquals(await inspectDataDir(foreign), "foreign");
  await assertRejects(
    () => EncryptedFs.open(foreign, { password: PASSWORD }),
    (e) => e instanceof NotADataDirError,
  );
  await assertRejects(() => initDataDir(foreign, PASSWORD), (e) => e instanceof NotADataDirError);

  // A data dir written by a future release: refused with a clear message, nothing written.
  const conf = JSON.parse(await Deno.readTextFile(`${dir}/rencfs.conf`));
  conf.version = FORMAT_VERSION + 1;
  const { checksumOf } = await import("./helpers/keyfile_checksum.ts");
  conf.checksum = await checksumOf(conf);
  await Deno.writeTextFile(`${dir}/rencfs.conf`, JSON.stringify(conf, null, 2) + "\n");
  await assertRejects(() => EncryptedFs.open(dir, { password: PASSWORD }), (e) => {
    assertEquals(e instanceof UnsupportedFormatError, true);
    assertEquals(/newer/.test((e as Error).message), true);
    return true;
  });
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(foreign, { recursive: true });
});

Deno.test("a data dir has one writer at a time", async () => {
  const { fs, dir } = await freshFs();
  await assertRejects(
    () => EncryptedFs.open(dir, { password: PASSWORD }),
    (e) => e instanceof DataDirBusyError,
  );
  await fs.close();
  const r1 = await EncryptedFs.open(dir, { password: PASSWORD }, { readOnly: true });
  const r2 = await EncryptedFs.open(dir, { password: PASSWORD }, { readOnly: true });
  await r1.close();
  await r2.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a missing root record is a clear error, never a silent new root", async () => {
  const { fs, dir } = await freshFs();
  await fs.close();
  const records = (await walkFiles(dir)).filter((p) => p.endsWith(".m"));
  assertEquals(records.length, 1);
  await Deno.remove(records[0]);
  await assertRejects(
    () => EncryptedFs.open(dir, { password: PASSWORD }),
    (e) => e instanceof DamagedDataDirError && /missing/.test((e as Error).message),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("opening with another cipher than the data dir's is refused", async () => {
  const { fs, dir } = await freshFs({ cipher: "aes-256-gcm" });
  await fs.close();
  const { CipherMismatchError } = await import("../mod.ts");
  await assertRejects(
    () => EncryptedFs.open(dir, { password: PASSWORD }, { cipher: "chacha20-poly1305" }),
    (e) => e instanceof CipherMismatchError && /uses aes-256-gcm/.test((e as Error).message),
  );
  const ok = await EncryptedFs.open(dir, { password: PASSWORD }, { cipher: "aes-256-gcm" });
  await ok.close();
  await Deno.remove(dir, { recursive: true });
});
