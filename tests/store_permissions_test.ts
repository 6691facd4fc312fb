/**
 * Other local users reach nothing of a data dir: every folder rencfs makes is 0700 and every
 * file 0600 whatever the umask, and opening a data dir whose top folders or key files are open
 * to others says so (as does creating one with a cipher whose nonces bound the writes per file).
 */
import process from "node:process";
import { ok as assert } from "node:assert/strict";
import { assertEquals } from "./helpers/assert.ts";
import { freshFs, n, PASSWORD, ROOT_CALLER, writeNew } from "./helpers/store.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { permissionWarnings } from "../src/store/datadir.ts";
import { fsck } from "../src/fsck/fsck.ts";
import { rencfs } from "./cli_helpers.ts";
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";

/** Every path under `dir` (itself included) with its permission bits. */
function modes(dir: string): Map<string, { dir: boolean; mode: number }> {
  const out = new Map<string, { dir: boolean; mode: number }>();
  const walk = (p: string) => {
    const st = Deno.lstatSync(p);
    out.set(p, { dir: st.isDirectory, mode: (st.mode ?? 0) & 0o7777 });
    if (st.isDirectory) { for (const e of Deno.readDirSync(p)) walk(`${p}/${e.name}`); }
  };
  walk(dir);
  return out;
}

function assertPrivate(dir: string): void {
  const all = modes(dir);
  for (const [p, { dir: isDir, mode }] of all) {
    const want = isDir ? 0o700 : 0o600;
    assertEquals(mode.toString(8), want.toString(8), `${p} has mode ${mode.toString(8)}`);
  }
}

Deno.test("every folder of a data dir is 0700 and every file 0600, even with umask 022", async () => {
  const old = process.umask(0o022);
  try {
    const { fs, dir } = await freshFs();
    const a = (await fs.mkdir(ROOT_INO, n("a"), 0o755, ROOT_CALLER)).ino;
    const b = (await fs.mkdir(a, n("b"), 0o755, ROOT_CALLER)).ino;
    const f = await writeNew(fs, b, "f", "x".repeat(70_000));
    await fs.link(f, a, n("f-link")); // moves the file to an `.m` in a shard of its own
    await fs.symlink(ROOT_INO, n("s"), n("a/b/f"), ROOT_CALLER);
    await fs.unlink(a, n("f-link")); // through the trash folder t/
    await fs.close();
    // Something for fsck to quarantine: a foreign file in the root's entries folder.
    const rootFolder = [...modes(`${dir}/o`).keys()].find((p) =>
      p.endsWith(".d") && [...Deno.readDirSync(p)].some((e) => e.name.length === 26)
    );
    assert(rootFolder !== undefined);
    Deno.writeTextFileSync(`${rootFolder}/${"z".repeat(26)}`, "junk", { mode: 0o600 });
    await fsck(dir, { password: PASSWORD }, { repair: true });
    const folders = [...modes(dir)].filter(([, m]) => m.dir).map(([p]) => p.slice(dir.length));
    for (const kind of ["/o", "/t", "/q"]) {
      assert(folders.includes(kind), `no ${kind} in ${folders}`);
    }
    assert(folders.some((p) => p.endsWith(".d") && p !== "/o"), "no .d folder");
    assertPrivate(dir);
    await Deno.remove(dir, { recursive: true });
  } finally {
    process.umask(old);
  }
});

Deno.test("a data dir or key file open to other users is reported, and nothing else", async () => {
  const { fs, dir } = await freshFs();
  await fs.close();
  assertEquals(await permissionWarnings(dir), []);
  Deno.chmodSync(dir, 0o755);
  Deno.chmodSync(`${dir}/rencfs.conf`, 0o644);
  Deno.chmodSync(`${dir}/rencfs.conf.bak`, 0o640);
  const warnings = await permissionWarnings(dir);
  assertEquals(warnings.length, 3, warnings.join("\n"));
  assert(warnings[0].startsWith(`${dir} is open to other users (mode 0755)`), warnings[0]);
  assert(warnings[0].endsWith(`chmod 700 '${dir}'`), warnings[0]);
  assert(warnings[1].includes("rencfs.conf is open to other users (mode 0644)"), warnings[1]);
  assert(warnings[1].includes("try passwords offline"), warnings[1]);
  assert(warnings[2].includes("rencfs.conf.bak is open to other users (mode 0640)"), warnings[2]);
  // Reported, not changed: the data dir still opens and keeps the modes it was given.
  const again = await EncryptedFs.open(dir, { password: PASSWORD });
  await again.close();
  assertEquals((Deno.statSync(dir).mode ?? 0) & 0o777, 0o755);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("rencfs init warns about a folder open to others and a 96-bit-nonce cipher, else not", async () => {
  const parent = await Deno.makeTempDir({ prefix: "rencfs-test-" });
  const env = { RENCFS_PASSWORD: PASSWORD };
  // An empty folder the user made with mode 0755, and a cipher with 96-bit nonces.
  Deno.mkdirSync(`${parent}/open`);
  Deno.chmodSync(`${parent}/open`, 0o755);
  const open = await rencfs([
    "init",
    "-d",
    `${parent}/open`,
    "-c",
    "aes-256-gcm",
    "--recovery-code-file",
    "-",
  ], { env });
  assertEquals(open.code, 0, open.stderr);
  assert(open.stderr.includes(`${parent}/open is open to other users (mode 0755)`), open.stderr);
  assert(open.stderr.includes("aes-256-gcm uses random 96-bit nonces"), open.stderr);
  // Made by rencfs, default cipher: nothing to warn about.
  const quiet = await rencfs(["init", "-d", `${parent}/made`, "--recovery-code-file", "-"], {
    env,
  });
  assertEquals(quiet.code, 0, quiet.stderr);
  assert(!/open to other users|96-bit/.test(quiet.stderr), quiet.stderr);
  assertEquals((Deno.statSync(`${parent}/made`).mode ?? 0) & 0o777, 0o700);
  await Deno.remove(parent, { recursive: true });
});
