/**
 * The key file's backup (`rencfs.conf.bak`) and the leftovers of interrupted key file writes,
 * through the command line: one damaged byte in `rencfs.conf` does not lose the data dir, a
 * writable open repairs either file, `rencfs.conf.tmp-*` does not outlive the next writable
 * open, and after `passwd` no state of the files lets the old password in. Mounting tests need
 * root and FUSE; the others run anywhere.
 */
import { assert, assertEquals, assertMatch, rencfs, withTempDir } from "./cli_helpers.ts";
import {
  fusermountU,
  ignore,
  isFuseMount,
  processesMentioning,
  waitFor,
} from "./cli_mount_helpers.ts";

const OLD = "old password";
const NEW = "new password";

async function init(dir: string): Promise<void> {
  const r = await rencfs(["init", "--recovery-code-file", "-", "-d", dir], {
    env: { RENCFS_PASSWORD: OLD },
  });
  assertEquals(r.code, 0, r.stderr);
}

async function passwd(dir: string, from: string, to: string) {
  return await rencfs(["passwd", "-d", dir], {
    env: { RENCFS_PASSWORD: from, RENCFS_NEW_PASSWORD: to },
  });
}

/** Mounts read-write in the background and unmounts at once: a writable open and close. */
async function mountOnce(tmp: string, dir: string, password: string, extra: string[] = []) {
  const mnt = `${tmp}/mnt`;
  await Deno.mkdir(mnt, { recursive: true });
  const r = await rencfs(["mount", "--background", ...extra, "-m", mnt, "-d", dir], {
    env: { RENCFS_PASSWORD: password },
  });
  if (r.code === 0) {
    assert(await isFuseMount(mnt));
    await fusermountU(mnt);
    await waitFor("daemon exit", async () => (await processesMentioning(mnt)).length === 0);
  }
  return r;
}

const read = (p: string) => Deno.readFile(p);
const mode = async (p: string) => ((await Deno.stat(p)).mode ?? 0) & 0o777;

/** `bytes` with the byte at `at` changed. */
function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at] ^= 0x04;
  return out;
}

Deno.test("init writes rencfs.conf and an identical backup, both 0600, folders 0700", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    await init(dir);
    assertEquals(await read(`${dir}/rencfs.conf.bak`), await read(`${dir}/rencfs.conf`));
    assertEquals(await mode(`${dir}/rencfs.conf`), 0o600);
    assertEquals(await mode(`${dir}/rencfs.conf.bak`), 0o600);
    assertEquals(await mode(dir), 0o700);
    assertEquals(await mode(`${dir}/o`), 0o700);
  });
});

Deno.test("passwd removes rencfs.conf.tmp-* leftovers and rewrites both key files", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    await init(dir);
    // What an interrupted passwd leaves: the key wrapped under an unconfirmed password.
    await Deno.copyFile(`${dir}/rencfs.conf`, `${dir}/rencfs.conf.tmp-aaaaaaaa`);
    await Deno.copyFile(`${dir}/rencfs.conf`, `${dir}/rencfs.conf.bak.tmp-bbbbbbbb`);
    const wrong = await passwd(dir, "not it", NEW);
    assertEquals(wrong.code, 3, wrong.stderr);
    assert((await Deno.stat(`${dir}/rencfs.conf.tmp-aaaaaaaa`)).isFile, "untouched when refused");
    const r = await passwd(dir, OLD, NEW);
    assertEquals(r.code, 0, r.stderr);
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names.filter((n) => n.startsWith("rencfs")).sort(), [
      "rencfs.conf",
      "rencfs.conf.bak",
    ]);
    assertEquals(await read(`${dir}/rencfs.conf.bak`), await read(`${dir}/rencfs.conf`));
  });
});

Deno.test("one flipped byte in rencfs.conf: passwd still works, from the backup, and repairs it", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/data`;
    await init(dir);
    const good = await read(`${dir}/rencfs.conf`);
    await Deno.writeFile(`${dir}/rencfs.conf`, flipped(good, Math.floor(good.length / 2)));
    assertEquals((await passwd(dir, "not it", NEW)).code, 3, "a wrong password stays wrong");
    const r = await passwd(dir, OLD, NEW);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(await read(`${dir}/rencfs.conf.bak`), await read(`${dir}/rencfs.conf`));
    assertEquals((await passwd(dir, NEW, OLD)).code, 0, "the new key file is intact");
  });
});

Deno.test({
  name: "one flipped byte in rencfs.conf: mount opens from the backup and restores rencfs.conf",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const dir = `${tmp}/data`;
      await init(dir);
      const good = await read(`${dir}/rencfs.conf`);
      // In the wrapped key (checksum wrong) and in the JSON syntax (unparsable).
      const inKey = new TextDecoder().decode(good).indexOf('"wrappedKey"') + 20;
      for (const at of [inKey, 0]) {
        await Deno.writeFile(`${dir}/rencfs.conf`, flipped(good, at));
        const wrong = await mountOnce(tmp, dir, "not it");
        assertEquals(wrong.code, 3, wrong.stderr);
        const ro = await mountOnce(tmp, dir, OLD, ["--read-only"]);
        assertEquals(ro.code, 0, ro.stderr);
        assertMatch(ro.stderr, /rencfs\.conf.*opened with its backup.*not restored/);
        assertEquals(await read(`${dir}/rencfs.conf`), flipped(good, at), "read-only: unchanged");
        const r = await mountOnce(tmp, dir, OLD);
        assertEquals(r.code, 0, r.stderr);
        assertMatch(r.stderr, /rencfs\.conf.*opened with its backup/);
        assertMatch(r.stderr, /restored rencfs\.conf from rencfs\.conf\.bak/);
        assertEquals(await read(`${dir}/rencfs.conf`), good);
      }
    });
  },
});

Deno.test({
  name: "a damaged or missing backup, a missing key file, tmp leftovers: put right when opened",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const dir = `${tmp}/data`;
      await init(dir);
      const good = await read(`${dir}/rencfs.conf`);
      await Deno.writeFile(`${dir}/rencfs.conf.bak`, flipped(good, 200));
      await Deno.copyFile(`${dir}/rencfs.conf`, `${dir}/rencfs.conf.tmp-cccccccc`);
      const r = await mountOnce(tmp, dir, OLD);
      assertEquals(r.code, 0, r.stderr);
      assertMatch(r.stderr, /rewrote rencfs\.conf\.bak .*damaged/);
      assertEquals(await read(`${dir}/rencfs.conf.bak`), good);
      assertEquals(await Deno.stat(`${dir}/rencfs.conf.tmp-cccccccc`).catch(() => null), null);

      await Deno.remove(`${dir}/rencfs.conf.bak`);
      assertEquals((await mountOnce(tmp, dir, OLD)).code, 0);
      assertEquals(await read(`${dir}/rencfs.conf.bak`), good);

      // A missing rencfs.conf is restored from the backup too.
      await Deno.remove(`${dir}/rencfs.conf`);
      const back = await mountOnce(tmp, dir, OLD);
      assertEquals(back.code, 0, back.stderr);
      assertMatch(back.stderr, /rencfs\.conf.*it is missing; opened with its backup/);
      assertEquals(await read(`${dir}/rencfs.conf`), good);
    });
  },
});

Deno.test({
  name: "after passwd the old password fails, whatever intermediate state is restored by hand",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const dir = `${tmp}/data`;
      await init(dir);
      const old = await read(`${dir}/rencfs.conf`);
      assertEquals((await passwd(dir, OLD, NEW)).code, 0);
      const current = await read(`${dir}/rencfs.conf`);
      // The states a passwd passes through, and an old backup left beside the new key file.
      const states: [string, Record<string, Uint8Array | null>][] = [
        ["new key file, old backup", { "rencfs.conf.bak": old }],
        ["new key file, no backup", { "rencfs.conf.bak": null }],
        ["new key file, old key file as tmp leftover", { "rencfs.conf.tmp-dddddddd": old }],
        ["new key file, damaged new backup", { "rencfs.conf.bak": flipped(current, 150) }],
      ];
      for (const [what, files] of states) {
        for (const [name, bytes] of Object.entries(files)) {
          if (bytes === null) await Deno.remove(`${dir}/${name}`).catch(() => {});
          else await Deno.writeFile(`${dir}/${name}`, bytes);
        }
        const r = await mountOnce(tmp, dir, OLD);
        assertEquals(r.code, 3, `${what}: ${r.stderr}`);
        assertEquals((await passwd(dir, OLD, "x")).code, 3, what);
        const ok = await mountOnce(tmp, dir, NEW);
        assertEquals(ok.code, 0, `${what}: ${ok.stderr}`);
        assertEquals(await read(`${dir}/rencfs.conf`), current, what);
        assertEquals(await read(`${dir}/rencfs.conf.bak`), current, what);
        const names = [];
        for await (const e of Deno.readDir(dir)) names.push(e.name);
        assertEquals(names.filter((n) => n.includes(".tmp-")), [], what);
      }
    });
  },
});
