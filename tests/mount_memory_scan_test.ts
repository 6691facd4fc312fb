/**
 * Key material in a live mount's memory: the daemon's readable mappings are read through
 * /proc/PID/mem and searched for the master key, each HKDF subkey, the key of a file written
 * through the mount, and the password (UTF-8 and UTF-16LE). After `--key-idle` none may be
 * found; before it, what is found is printed (the baseline the threat model quotes). The file
 * then still works: the keys come back from the kernel keyring. Also: the daemon cannot dump
 * core. Needs root, /dev/fuse and libfuse3; skipped otherwise.
 */
import { assert, assertEquals, rencfs, withTempDir } from "./cli_helpers.ts";
import { ignore, Mounted } from "./cli_mount_helpers.ts";
import { decodeRecoveryCode } from "../src/crypto/recovery.ts";
import { deriveSubkeys, hkdf, type Subkeys } from "../src/crypto/subkeys.ts";
import { StoreKeys } from "../src/store/keys.ts";
import { RecordStore } from "../src/store/record_store.ts";
import { DirStore } from "../src/store/dir_store.ts";
import { Trash } from "../src/store/trash.ts";
import { concat, u64le } from "../src/util/codec.ts";
import { ROOT_INO } from "../src/fs/types.ts";
import { readHeader } from "../src/store/datadir.ts";
import type { CipherName } from "../src/crypto/aead.ts";

// Distinctive, so that a hit cannot be a coincidence; long enough to be a real password.
const PASSWORD = "scan-me: correct horse battery staple 7Q";
const FILE = "secret.txt";
const enc = new TextEncoder();

/**
 * Where key material could be: every mapping that is or was writable (rw, and inaccessible
 * ones up to 1 MiB, such as our PROT_NONE key pages: /proc/PID/mem reads them anyway), and
 * anonymous read-only ones. Program text and the huge inaccessible reservations of V8 are left
 * out: they never held data, and reading the latter would fault in gigabytes of zero pages.
 */
function worthScanning(perms: string, size: number, path: string): boolean {
  if (path === "[vvar]" || path === "[vsyscall]" || path === "[vvar_vclock]") return false;
  if (perms[1] === "w") return true;
  if (perms.startsWith("---")) return size <= 1 << 20;
  return perms[0] === "r" && (path === "" || path.startsWith("["));
}

// Counts each needle's occurrences in `hay[0..limit)` (starting there; may run past `limit`).
function countIn(hay: Uint8Array, limit: number, needles: Uint8Array[], hits: number[]): void {
  // Candidates by their first two bytes: a random 2-byte prefix matches one position in 65536.
  const first = new Int16Array(65536).fill(-1);
  const more: number[][] = [];
  needles.forEach((n, k) => {
    const x = n[0] | (n[1] << 8);
    if (first[x] === -1) first[x] = more.push([]) - 1;
    more[first[x]].push(k);
  });
  const end = Math.min(limit, hay.length - 1);
  for (let i = 0; i < end; i++) {
    const slot = first[hay[i] | (hay[i + 1] << 8)];
    if (slot === -1) continue;
    for (const k of more[slot]) {
      const n = needles[k];
      if (i + n.length > hay.length) continue;
      let j = 2;
      while (j < n.length && hay[i + j] === n[j]) j++;
      if (j === n.length) hits[k]++;
    }
  }
}

/** Hits of each named needle in the memory of `pid` (see {@link worthScanning}). */
async function scanMemory(
  pid: number,
  needles: Record<string, Uint8Array>,
): Promise<{ hits: Record<string, number>; bytes: number; ms: number }> {
  const t0 = performance.now();
  const names = Object.keys(needles);
  const list = Object.values(needles);
  const counts = new Array<number>(list.length).fill(0);
  const overlap = Math.max(...list.map((v) => v.length)) - 1;
  const maps = await Deno.readTextFile(`/proc/${pid}/maps`);
  const mem = await Deno.open(`/proc/${pid}/mem`, { read: true });
  const buf = new Uint8Array(8 << 20);
  let bytes = 0;
  try {
    for (const line of maps.split("\n")) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (!m) continue;
      const start = parseInt(m[1], 16);
      const end = parseInt(m[2], 16);
      if (!worthScanning(m[3], end - start, m[4])) continue;
      for (let at = start; at < end; at += buf.length - overlap) {
        const want = Math.min(buf.length, end - at);
        let got = 0;
        try {
          await mem.seek(at, Deno.SeekMode.Start);
          while (got < want) {
            const n = await mem.read(buf.subarray(got, want));
            if (n === null || n === 0) break;
            got += n;
          }
        } catch {
          // a mapping that went away meanwhile: nothing to read there
        }
        if (got === 0) break;
        bytes += got;
        // Hits starting in the overlap are counted by the next window.
        countIn(buf.subarray(0, got), at + got < end ? got - overlap : got, list, counts);
        if (want < buf.length) break;
      }
    }
  } finally {
    mem.close();
  }
  const hits = Object.fromEntries(names.map((k, i) => [k, counts[i]]));
  return { hits, bytes, ms: Math.round(performance.now() - t0) };
}

/** The raw key of `FILE`'s chunks, from the data dir (closed) and its master key. */
async function fileKeyOf(dir: string, master: Uint8Array, sub: Subkeys): Promise<Uint8Array> {
  const { header } = await readHeader(dir);
  const keys = StoreKeys.derive(master.slice(), header.cipher as CipherName);
  try {
    const records = new RecordStore(dir, keys, new Trash(dir));
    const dirs = new DirStore(keys, records);
    const entry = await dirs.get(ROOT_INO, records.paths(ROOT_INO).entries, enc.encode(FILE));
    assert(entry, `${FILE} has an entry`);
    const loaded = entry.inline ?? await records.load(records.objectPlace(entry.ino));
    assert(loaded, `${FILE} has a record`);
    const r = loaded.rec;
    return hkdf(sub.content, "rencfs v1 file", concat(u64le(r.ino), r.fileId));
  } finally {
    keys.wipe();
  }
}

function utf16le(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    out[2 * i] = s.charCodeAt(i) & 0xff;
    out[2 * i + 1] = s.charCodeAt(i) >> 8;
  }
  return out;
}

function describe(hits: Record<string, number>): string {
  return Object.entries(hits).map(([k, v]) => `${k}=${v}`).join(" ");
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return Math.round((performance.now() - t) * 100) / 100;
}

async function writeSynced(path: string, text: string): Promise<void> {
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await f.write(enc.encode(text));
    await f.sync();
  } finally {
    f.close();
  }
}

Deno.test({
  name: "after --key-idle a live mount's memory holds no master key, subkey, file key or password",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      await Deno.mkdir(mnt);
      const init = await rencfs(["init", "-d", dir, "--recovery-code-file", "-"], {
        env: { RENCFS_PASSWORD: PASSWORD },
      });
      assertEquals(init.code, 0, init.stderr);
      const master = decodeRecoveryCode(init.stdout.trim());
      const sub = deriveSubkeys(master);

      const m = new Mounted(["-m", mnt, "-d", dir, "--key-idle", "4s"], {
        RENCFS_PASSWORD: PASSWORD,
      });
      try {
        await m.ready(mnt);
        const pid = m.child.pid;
        // Core dumps refused: no core size, and the key pages are excluded and locked.
        const limits = await Deno.readTextFile(`/proc/${pid}/limits`);
        assert(/Max core file size\s+0\s+0\b/.test(limits), limits);
        const environ = await Deno.readFile(`/proc/${pid}/environ`);
        assert(!new TextDecoder().decode(environ).includes(PASSWORD), "password zeroed in environ");

        const f = await Deno.open(`${mnt}/${FILE}`, { write: true, create: true, read: true });
        await f.write(enc.encode("the content of a secret file\n".repeat(100)));
        await f.sync();
        const smaps = await Deno.readTextFile(`/proc/${pid}/smaps`);
        assert(/VmFlags:.*\blo\b.*\bdd\b|VmFlags:.*\bdd\b.*\blo\b/.test(smaps), "locked dd pages");

        const needles: Record<string, Uint8Array> = {
          master,
          ...Object.fromEntries(Object.entries(sub).map(([k, v]) => [`subkey.${k}`, v])),
          fileKey: new Uint8Array(32), // filled below, once the record is known
          "password.utf8": enc.encode(PASSWORD),
          "password.utf16le": utf16le(PASSWORD),
          // Known to be there (argv, the mount's own strings): proves the scan reads memory.
          control: enc.encode(`rencfs:${dir}`),
        };
        // The record is sealed in the data dir: read it with the keys (the mount holds the
        // lock, but only for writers; this reads).
        needles.fileKey = await fileKeyOf(dir, master, sub);

        // Baseline: file open and just written (one chunk here, a batch in the chunk worker),
        // keys in use.
        await f.write(new Uint8Array(300_000).fill(0x5a));
        await f.sync();
        // Keep the keys in use while scanning (a slow scan would otherwise outlast the idle time).
        let busy = Promise.resolve();
        const keepBusy = setInterval(() => {
          busy = busy.then(async () => {
            await f.write(enc.encode("."));
            await f.sync();
          });
        }, 300);
        const before = await scanMemory(pid, needles).finally(() => clearInterval(keepBusy));
        await busy;
        console.log(
          `before idle (${before.bytes >> 20} MiB in ${before.ms} ms): ${describe(before.hits)}`,
        );
        f.close();

        await new Promise((r) => setTimeout(r, 6000)); // 4 s idle + the timer's period + slack
        const after = await scanMemory(pid, needles);
        console.log(
          `after idle (${after.bytes >> 20} MiB in ${after.ms} ms): ${describe(after.hits)}`,
        );
        assert(before.hits.control > 0 && after.hits.control > 0, "the scan finds a known string");
        for (const [name, n] of Object.entries(after.hits)) {
          if (name !== "control") {
            assertEquals(n, 0, `${name} found ${n} times after the idle time`);
          }
        }

        // Still works: the first use reads the keys back from the keyring.
        const cold = await timed(() => writeSynced(`${mnt}/${FILE}`, "after idle\n"));
        const warm = await timed(() => writeSynced(`${mnt}/${FILE}`, "after idle, again\n"));
        assertEquals(await Deno.readTextFile(`${mnt}/${FILE}`), "after idle, again\n");
        await Deno.writeTextFile(`${mnt}/new.txt`, "new");
        assertEquals(await Deno.readTextFile(`${mnt}/new.txt`), "new");
        console.log(`write+fsync after idle: ${cold} ms; again: ${warm} ms`);
      } finally {
        m.child.kill("SIGTERM");
        const r = await m.exit();
        assertEquals(r.code, 0, r.stderr);
      }
    });
  },
});
