/**
 * `rencfs mount` never loses what the kernel acknowledged, and never lets plaintext land in the
 * mount point: signals while a writer holds a file open, the dead mount after `kill -9`,
 * `--umount-on-start` on a dead and on a live mount, and a mount point that is not empty. Needs
 * root, /dev/fuse and libfuse3; skipped otherwise.
 */
import { assert, assertEquals, assertMatch, rencfs, withTempDir } from "./cli_helpers.ts";
import {
  fusermountU,
  ignore,
  isFuseMount,
  Mounted,
  processesMentioning,
  PW,
  Script,
  waitFor,
} from "./cli_mount_helpers.ts";

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const MiB = 1024 * 1024;

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** stat's error code at `path` ("ok" when it succeeds). */
async function statCode(path: string): Promise<string> {
  try {
    await Deno.stat(path);
    return "ok";
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

Deno.test({
  name: "SIGTERM twice and SIGINT while a file is held open: every acknowledged write is kept",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      const src = `${tmp}/src`;
      await Deno.mkdir(mnt);
      const pieces = 64;
      // Random bytes with each MiB's number after it: a piece written twice or lost shows.
      const made = await new Deno.Command("bash", {
        args: [
          "-c",
          `head -c ${MiB} /dev/urandom > ${q(src)} && ` +
          `for i in $(seq ${pieces}); do cat ${q(src)}; echo $i; done > ${q(src)}.all`,
        ],
      }).output();
      assert(made.success);
      const m = new Mounted(["--init", "-m", mnt, "-d", dir]);
      await m.ready(mnt);
      // The writer keeps one file open (no fsync) and writes it piece by piece; `dd` fails, and
      // the script with it, on any write error.
      const writer = new Script(`
        set -e
        exec 3>${q(mnt)}/big
        i=0
        while [ $i -lt ${pieces} ]; do
          dd if=${q(src)}.all bs=${MiB + 3} skip=$i count=1 iflag=fullblock status=none >&3
          i=$((i + 1))
          [ $i = 8 ] && echo started
          sleep 0.03
        done
        echo written
        read -r go
        exec 3>&-
        echo closed
      `);
      try {
        assertEquals(await writer.line(), "started");
        const t0 = performance.now();
        m.child.kill("SIGTERM");
        await new Promise((r) => setTimeout(r, 500));
        m.child.kill("SIGTERM");
        await new Promise((r) => setTimeout(r, 300));
        m.child.kill("SIGINT");
        assertEquals(await writer.line(), "written", "every write succeeded");
        const written = performance.now() - t0;
        // Still serving the open file: the daemon has not exited.
        const early = await Promise.race([
          m.child.status.then(() => "exited"),
          new Promise((r) => setTimeout(() => r("running"), 500)),
        ]);
        assertEquals(early, "running");
        assert(!(await isFuseMount(mnt)), "detached from the mount point meanwhile");
        await writer.send("go\n");
        assertEquals(await writer.line(), "closed");
        assertEquals(await writer.end(), 0);
        const r = await m.exit();
        assertEquals(r.code, 0, r.stderr);
        assertMatch(r.stderr, /detached it; serving until its last user is gone/);
        assertMatch(r.stderr, /SIGTERM: .* still serving 1 open file in 1 process/);
        assertMatch(r.stderr, /SIGINT: .* still serving/);
        console.log(
          `  writer went on ${Math.round(written)} ms after the first signal; ` +
            `exit ${Math.round(performance.now() - t0)} ms after it`,
        );
      } finally {
        await writer.stop();
      }
      const again = new Mounted(["-r", "-m", mnt, "-d", dir]);
      await again.ready(mnt);
      try {
        assertEquals((await Deno.stat(`${mnt}/big`)).size, (await Deno.stat(`${src}.all`)).size);
        assertEquals(await sha256(`${mnt}/big`), await sha256(`${src}.all`));
      } finally {
        again.child.kill("SIGTERM");
        assertEquals((await again.exit()).code, 0);
      }
    });
  },
});

Deno.test({
  name: "after kill -9 the mount stays dead (ENOTCONN, writes fail); -u clears it, no plaintext",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      await Deno.mkdir(mnt);
      const m = new Mounted(["--init", "-m", mnt, "-d", dir]);
      await m.ready(mnt);
      // One writer keeps its file open, one reopens it by path for every line (`>>`).
      const writer = new Script(`
        exec 3>${q(mnt)}/held
        echo started
        while :; do
          echo "secret line" >&3 2>/dev/null || { echo held-failed; break; }
          sleep 0.02
        done
        while :; do
          if echo "secret line" 2>/dev/null >>${q(mnt)}/reopened; then echo reopen-ok; exit 1; fi
          read -r -t 0.02 stop && exit 0
        done
      `);
      try {
        assertEquals(await writer.line(), "started");
        m.child.kill("SIGKILL");
        await m.exit();
        const killed = performance.now();
        assertEquals(await statCode(mnt), "ENOTCONN");
        assert(await isFuseMount(mnt), "a dead mount stays in the table");
        // Writes through a file held open fail once the kernel's cached attributes of the file
        // expire (10 s): until then they land in the page cache of the dead mount, and are lost.
        assertEquals(await writer.line(15_000), "held-failed");
        console.log(
          `  held writes failed ${Math.round(performance.now() - killed)} ms after kill -9`,
        );
        const plain = await rencfs(["mount", "-m", mnt, "-d", dir], {
          env: { RENCFS_PASSWORD: PW },
        });
        assertEquals(plain.code, 5, plain.stderr);
        assertMatch(plain.stderr, /is a dead mount .*--umount-on-start/);
        await writer.send("stop\n");
        assertEquals(await writer.end(), 0, "no write by path succeeded while dead");
      } finally {
        await writer.stop();
      }

      const again = new Mounted(["-u", "-m", mnt, "-d", dir]);
      await again.ready(mnt);
      again.child.kill("SIGTERM");
      const r = await again.exit();
      assertEquals(r.code, 0, r.stderr);
      assertMatch(r.stderr, /clearing the dead mount/);
      assert(!(await isFuseMount(mnt)));
      const left = [];
      for await (const e of Deno.readDir(mnt)) left.push(e.name);
      assertEquals(left, [], "nothing was written into the bare mount point");
    });
  },
});

Deno.test({
  name: "mount -u refuses a live mount and leaves it working",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      await Deno.mkdir(mnt);
      const m = new Mounted(["--init", "-m", mnt, "-d", `${tmp}/data`]);
      await m.ready(mnt);
      try {
        await Deno.writeTextFile(`${mnt}/f`, "before");
        const r = await rencfs(["mount", "--init", "-u", "-m", mnt, "-d", `${tmp}/other`], {
          env: { RENCFS_PASSWORD: PW },
        });
        assertEquals(r.code, 5, r.stderr);
        assertMatch(r.stderr, /already mounted .*--umount-on-start clears only a dead mount/);
        await Deno.writeTextFile(`${mnt}/f`, " after", { append: true });
        assertEquals(await Deno.readTextFile(`${mnt}/f`), "before after");
        assert((await processesMentioning(`${tmp}/other`)).length === 0);
      } finally {
        m.child.kill("SIGTERM");
      }
      assertEquals((await m.exit()).code, 0);
    });
  },
});

Deno.test({
  name: "mount refuses a mount point that is not empty; --nonempty mounts over it (--background)",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      await Deno.mkdir(mnt);
      await Deno.writeTextFile(`${mnt}/mine`, "not encrypted");
      const r = await rencfs(["mount", "--init", "-m", mnt, "-d", dir], {
        env: { RENCFS_PASSWORD: PW },
      });
      assertEquals(r.code, 5, r.stderr);
      assertMatch(r.stderr, new RegExp(`mount point ${mnt} is not empty.*--nonempty`));
      assertEquals(await statCode(dir), "ENOENT", "nothing created");

      const ok = await rencfs([
        "mount",
        "--init",
        "--background",
        "--nonempty",
        "-m",
        mnt,
        "-d",
        dir,
      ], {
        env: { RENCFS_PASSWORD: PW },
      });
      assertEquals(ok.code, 0, ok.stderr);
      assert(await isFuseMount(mnt));
      assertEquals(await statCode(`${mnt}/mine`), "ENOENT", "hidden by the mount");
      await fusermountU(mnt);
      await waitFor("daemon exit", async () => (await processesMentioning(mnt)).length === 0);
      assertEquals(await Deno.readTextFile(`${mnt}/mine`), "not encrypted");
    });
  },
});
