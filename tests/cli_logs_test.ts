/**
 * Where a mount's log lines go and what they say: `--log-file` (0600, appended), syslog for
 * `--background` (a default file when there is no /dev/log), errors such as a tampered chunk
 * visible after detaching, TRACE as one line per operation without plaintext names (unless
 * `--log-names`), DEBUG without periodic noise, and `--idle`. Needs root, /dev/fuse and
 * libfuse3; skipped otherwise.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  rencfs,
  rencfsCommandLine,
  rencfsEnv,
  withTempDir,
} from "./cli_helpers.ts";
import {
  fusermountU,
  ignore,
  isFuseMount,
  processesMentioning,
  PW,
  waitFor,
} from "./cli_mount_helpers.ts";

const ENV = { RENCFS_PASSWORD: PW };

/** `rencfs [pre…] mount --background … -m mnt -d dir`; asserts it mounted. */
async function mountBackground(mnt: string, dir: string, pre: string[], extra: string[]) {
  const r = await rencfs([...pre, "mount", "--background", ...extra, "-m", mnt, "-d", dir], {
    env: ENV,
  });
  assertEquals(r.code, 0, r.stderr);
  assert(await isFuseMount(mnt), "mounted");
  return r;
}

async function unmountAndWait(mnt: string): Promise<void> {
  await fusermountU(mnt);
  await waitFor("daemon exit", async () => (await processesMentioning(mnt)).length === 0);
}

/** The largest file under `dir` (the content of the one big file written). */
async function largestFile(dir: string): Promise<string> {
  let best = { path: "", size: -1 };
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile) {
        const size = (await Deno.stat(p)).size;
        if (size > best.size) best = { path: p, size };
      }
    }
  };
  await walk(dir);
  return best.path;
}

Deno.test({
  name:
    "--log-file (0600) gets the lines logged after --background detached: a tampered chunk's EIO",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      const logFile = `${tmp}/rencfs.log`;
      await Deno.mkdir(mnt);
      await mountBackground(mnt, dir, [], ["--init"]);
      await Deno.writeFile(`${mnt}/big`, new Uint8Array(300_000).fill(7));
      await unmountAndWait(mnt);

      const content = await largestFile(dir);
      const bytes = await Deno.readFile(content);
      bytes[Math.floor(bytes.length / 2)] ^= 1;
      await Deno.writeFile(content, bytes);

      const r = await mountBackground(mnt, dir, [], ["--log-file", logFile]);
      assertMatch(r.stderr, new RegExp(`logging to ${logFile}`));
      assertEquals((await Deno.stat(logFile)).mode! & 0o777, 0o600);
      let failed = "";
      try {
        await Deno.readFile(`${mnt}/big`);
      } catch (e) {
        failed = String(e);
      }
      assertMatch(failed, /Input\/output error|EIO|os error 5/);
      await unmountAndWait(mnt);
      const log = await Deno.readTextFile(logFile);
      assertMatch(log, /\[ERR\] rencfs\.fuse: read.*/);
      assertMatch(log, /\[INF\] rencfs\.mount: unmounted /);
    });
  },
});

Deno.test({
  name: "TRACE: one line per operation (inodes, errno, duration), names only with --log-names",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      await Deno.mkdir(mnt);
      const run = async (level: string, extra: string[], logFile: string) => {
        await mountBackground(mnt, dir, ["--log-level", level, "--log-file", logFile], [
          "--init",
          ...extra,
        ]);
        await Deno.writeTextFile(`${mnt}/secret-name.txt`, "plaintext");
        await Deno.stat(`${mnt}/no-such-secret`).catch(() => {});
        await unmountAndWait(mnt);
        return await Deno.readTextFile(logFile);
      };
      const trace = await run("trace", [], `${tmp}/trace.log`);
      assertMatch(
        trace,
        /\[TRC\] rencfs\.op: lookup parent=1 name=<14 bytes> -> ENOENT \d+\.\d{3} ms/,
      );
      assertMatch(
        trace,
        /\[TRC\] rencfs\.op: create parent=1 name=<15 bytes> .*-> ino=\d+ fh=\d+ /,
      );
      assertMatch(
        trace,
        /\[TRC\] rencfs\.op: write ino=\d+ fh=\d+ off=0 data=<9 bytes> -> 9 bytes /,
      );
      assert(!/secret|plaintext/.test(trace), "no names or data at TRACE by default");

      const named = await run("trace", ["--log-names"], `${tmp}/named.log`);
      assertMatch(named, /lookup parent=1 name="no-such-secret" -> ENOENT/);
      assert(!named.includes("plaintext"), "data is never logged");

      const debug = await run("debug", [], `${tmp}/debug.log`);
      assert(!/rencfs\.op:/.test(debug), "no per-operation lines at DEBUG");
      assert(debug.split("\n").filter((l) => /memory: rss/.test(l)).length <= 1, debug);
    });
  },
});

Deno.test({
  name:
    "--background without --log-file logs to syslog (/dev/log), else to a file under XDG_STATE_HOME",
  ignore: ignore || !(await hasPython()),
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      await Deno.mkdir(mnt);
      const mountCmd = (dir: string) =>
        rencfsCommandLine(["mount", "--background", "--init", "-m", mnt, "-d", dir])
          .map((a) => `'${a}'`).join(" ");
      // In a private /dev: first without /dev/log (the fallback file), then with a listener.
      const listener = "import socket,sys\n" +
        "s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.bind('/dev/log')\n" +
        "f=open(sys.argv[1],'ab',0); print('ready',flush=True)\n" +
        "while True: f.write(s.recv(65536)+b'\\n')\n";
      await Deno.writeTextFile(`${tmp}/listen.py`, listener);
      const script = `set -e
mount -t tmpfs none /dev
mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/fuse c 10 229
${mountCmd(`${tmp}/d1`)} 2>${tmp}/err1
ls ${mnt} >/dev/null; umount ${mnt}
for i in $(seq 100); do grep -q 'unmounted ${mnt}' ${tmp}/state/rencfs/rencfs.log && break; sleep 0.05; done
timeout 60 python3 ${tmp}/listen.py ${tmp}/syslog.txt >${tmp}/ready 2>&1 </dev/null &
listener=$!
while ! grep -q ready ${tmp}/ready; do sleep 0.05; done
${mountCmd(`${tmp}/d2`)} 2>${tmp}/err2
ls ${mnt} >/dev/null; umount ${mnt}
for i in $(seq 100); do grep -q 'unmounted ${mnt}' ${tmp}/syslog.txt 2>/dev/null && break; sleep 0.05; done
kill $listener
`;
      // Bounded: a hung step must fail the test, not stall the run.
      const out = await new Deno.Command("timeout", {
        args: ["90", "unshare", "-m", "sh", "-c", script],
        env: rencfsEnv({ ...ENV, XDG_STATE_HOME: `${tmp}/state` }),
        clearEnv: true,
        stdin: "null",
      }).output();
      assert(out.success, new TextDecoder().decode(out.stderr));
      const fallback = `${tmp}/state/rencfs/rencfs.log`;
      assertMatch(await Deno.readTextFile(`${tmp}/err1`), new RegExp(`logging to ${fallback}`));
      assertMatch(await Deno.readTextFile(fallback), /\[INF\] rencfs\.mount: unmounted /);
      assertMatch(await Deno.readTextFile(`${tmp}/err2`), /logging to syslog/);
      const syslog = await Deno.readTextFile(`${tmp}/syslog.txt`);
      // RFC 3164 as glibc's syslog(3) sends it: <daemon.info>timestamp tag[pid]: text
      assertMatch(
        syslog,
        /^<30>\w{3} [ \d]\d \d\d:\d\d:\d\d rencfs\[\d+\]: \[INF\] rencfs\.mount: mounted /m,
      );
      assertMatch(syslog, new RegExp(`rencfs\\[\\d+\\]: .*unmounted ${mnt}`));
    });
  },
});

Deno.test({
  name: "--idle unmounts after the time without activity, not while a file is open",
  ignore,
  fn: async () => {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      const dir = `${tmp}/data`;
      const logFile = `${tmp}/rencfs.log`;
      await Deno.mkdir(mnt);
      await mountBackground(mnt, dir, ["--log-file", logFile], ["--init", "--idle", "1s"]);
      const f = await Deno.open(`${mnt}/held`, { write: true, create: true });
      try {
        await new Promise((r) => setTimeout(r, 2500));
        assert(await isFuseMount(mnt), "an open file keeps an idle mount");
      } finally {
        f.close();
      }
      const closed = Date.now();
      await waitFor("idle unmount", async () => !(await isFuseMount(mnt)), 10_000);
      const after = Date.now() - closed;
      assert(after >= 900, `unmounted ${after} ms after the last activity`);
      await waitFor("daemon exit", async () => (await processesMentioning(mnt)).length === 0);
      const log = await Deno.readTextFile(logFile);
      assertMatch(log, /no activity for 1s: unmounting .* \(--idle\)/);
    });
  },
});

async function hasPython(): Promise<boolean> {
  try {
    return (await new Deno.Command("python3", { args: ["-c", "import socket"] }).output()).success;
  } catch {
    return false;
  }
}
