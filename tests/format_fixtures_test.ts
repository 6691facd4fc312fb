/**
 * The frozen format: every data dir committed under tests/fixtures/ (made by an earlier release
 * with scripts/make-fixtures: each format version and cipher) opens with its password and its
 * recovery code and holds exactly what its expected.json says, read-only and read-write; written
 * to, it stays in its format version and reads back. A failure here means a release no longer
 * reads data dirs users already have: fix the code, never the fixture.
 */
import { ok as assert } from "node:assert/strict";
import { assertEquals } from "./helpers/assert.ts";
import { EncryptedFs } from "../src/fs/encrypted_fs.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { readHeader } from "../src/store/datadir.ts";
import { CIPHERS } from "../src/crypto/aead.ts";
import { describeTree, type Manifest } from "./fixtures/manifest.ts";

const ROOT = new URL("./fixtures", import.meta.url).pathname;
const enc = new TextEncoder();

function fixtures(): { name: string; data: string; manifest: Manifest }[] {
  const out = [];
  for (const e of Deno.readDirSync(ROOT)) {
    if (!e.isDirectory) continue;
    const dir = `${ROOT}/${e.name}`;
    const manifest = JSON.parse(Deno.readTextFileSync(`${dir}/expected.json`)) as Manifest;
    out.push({ name: e.name, data: `${dir}/data`, manifest });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** A copy of a fixture in a temp folder: opening writes (lock, trash, key file repair). */
async function copyOf(src: string): Promise<string> {
  const dst = await Deno.makeTempDir({ prefix: "rencfs-fixture-" });
  const copy = async (from: string, to: string) => {
    for await (const e of Deno.readDir(from)) {
      if (e.isDirectory) {
        await Deno.mkdir(`${to}/${e.name}`, { mode: 0o700 });
        await copy(`${from}/${e.name}`, `${to}/${e.name}`);
      } else if (e.isFile) {
        await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
      } else {
        throw new Error(`${from}/${e.name}: fixtures hold only files and folders`);
      }
    }
  };
  await copy(src, dst);
  return dst;
}

Deno.test("fixtures exist for every format version and cipher", () => {
  const have = new Set(fixtures().map((f) => `${f.manifest.version}/${f.manifest.cipher}`));
  for (const v of [1, 2, 3]) {
    for (const c of CIPHERS) assert(have.has(`${v}/${c}`), `no fixture for format ${v}, ${c}`);
  }
});

for (const f of fixtures()) {
  const m = f.manifest;
  Deno.test(`fixture ${f.name} opens read-only and holds what its manifest says`, async () => {
    const dir = await copyOf(f.data);
    const { header } = await readHeader(dir);
    assertEquals(
      [header.version, header.cipher, header.chunkSize],
      [m.version, m.cipher, m.chunkSize],
    );
    const fs = await EncryptedFs.open(dir, { password: m.password }, { readOnly: true });
    assertEquals(await describeTree(fs), m.entries);
    await fs.close();
    // The recovery code printed when it was made unlocks it too.
    const byCode = await EncryptedFs.open(dir, { recoveryCode: m.recoveryCode }, {
      readOnly: true,
    });
    assertEquals((await describeTree(byCode)).length, m.entries.length);
    await byCode.close();
    await Deno.remove(dir, { recursive: true });
  });

  Deno.test(`fixture ${f.name} opens read-write, takes writes and keeps its format`, async () => {
    const dir = await copyOf(f.data);
    const fs = await EncryptedFs.open(dir, { password: m.password });
    assertEquals(await describeTree(fs), m.entries);
    // New objects of every kind written by this release into the old data dir.
    const c = (await fs.mkdir(ROOT_INO, enc.encode("new-dir"), 0o700, { uid: 0, gid: 0 })).ino;
    const { attr, fh } = await fs.create(c, enc.encode("new.txt"), 0o600, 2, { uid: 0, gid: 0 });
    await fs.write(attr.ino, fh, 0, enc.encode("written by this release"));
    await fs.release(attr.ino, fh);
    await fs.rename(ROOT_INO, enc.encode("hard-a"), c, enc.encode("hard-moved"), 0);
    await fs.close();

    assertEquals((await readHeader(dir)).header.version, m.version, "the format is kept");
    const again = await EncryptedFs.open(dir, { password: m.password }, { readOnly: true });
    const tree = await describeTree(again);
    await again.close();
    const paths = tree.map((e) => e.path);
    assert(paths.includes("/new-dir/new.txt") && paths.includes("/new-dir/hard-moved"));
    assert(!paths.includes("/hard-a"));
    // Everything not touched reads as before.
    const untouched = (e: { path: string }) => !e.path.startsWith("/new-dir") && e.path !== "/";
    const before = m.entries.filter((e) => untouched(e) && e.path !== "/hard-a")
      .map(({ sameInodeAs: _, ...rest }) => rest);
    const after = tree.filter(untouched).map(({ sameInodeAs: _, ...rest }) => rest);
    assertEquals(after, before);
    await Deno.remove(dir, { recursive: true });
  });
}
