/**
 * The memory ceiling (`--memory-limit`) holds under the workloads that used to grow the daemon
 * without bound: 8 parallel writers, a sequential read of a file larger than every cache, random
 * writes through a shared mmap, sparse files read back whole, and a directory with more files
 * than the inode budget, created and listed with `ls -l` (the kernel keeps every inode it looked
 * up; the mount must make it forget the idle ones). The daemon is a real `rencfs mount` child,
 * run with the V8 flags of the launcher; its VmHWM (peak resident memory from its start, the
 * unlock included) must stay under the limit, of which the runtime alone (Deno, both V8
 * isolates, code) takes ~100 MiB. Needs root, /dev/fuse and libfuse3; skipped otherwise.
 */
import { assert, assertEquals, rencfsCommandLine, rencfsEnv, withTempDir } from "./cli_helpers.ts";
import { ignore, isLiveFuseMount, PW, waitFor } from "./cli_mount_helpers.ts";
import { sh } from "./mount_helpers.ts";
import { V8_FLAGS } from "../src/cli/daemon.ts";
import { memoryBudget } from "../src/util/memory_budget.ts";

const MiB = 1 << 20;
/** Small enough that every workload below is larger than its caches. */
const LIMIT = 192 * MiB;
/** More files than the inode budget of {@link LIMIT}. */
const FILES = memoryBudget(LIMIT).liveInodes + 3000;

/** A `rencfs mount` child with `--memory-limit`, logging at DEBUG to a pipe we keep. */
class Daemon {
  readonly child: Deno.ChildProcess;
  #log = "";
  readonly #done: Promise<void>;

  constructor(mnt: string, dir: string) {
    const [cmd, ...args] = rencfsCommandLine([
      "--log-level",
      "debug",
      "mount",
      "--init",
      "-m",
      mnt,
      "-d",
      dir,
      "--memory-limit",
      `${LIMIT / MiB}M`,
    ]);
    // The launcher's V8 flags go before the script, as `./rencfs` passes them.
    const at = args.indexOf("--no-prompt") + 1;
    args.splice(at, 0, `--v8-flags=${V8_FLAGS}`);
    this.child = new Deno.Command(cmd, {
      args,
      env: rencfsEnv({ RENCFS_PASSWORD: PW }),
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = this.child.stderr;
    this.#done = (async () => {
      const dec = new TextDecoder();
      for await (const b of stderr) this.#log += dec.decode(b, { stream: true });
    })();
  }

  get log(): string {
    return this.#log;
  }

  /** Peak resident memory so far, in bytes. */
  async peak(): Promise<number> {
    const status = await Deno.readTextFile(`/proc/${this.child.pid}/status`);
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)![1]) * 1024;
  }

  async ready(mnt: string): Promise<void> {
    await waitFor(
      "mounted",
      async () => / mounted .* at /.test(this.#log) && await isLiveFuseMount(mnt),
    );
  }

  async stop(): Promise<number> {
    this.child.kill("SIGTERM");
    const { code } = await this.child.status;
    await this.#done;
    return code;
  }
}

Deno.test({
  name: "the daemon's peak memory stays under --memory-limit on streams, mmap and big dirs",
  ignore,
  sanitizeResources: false,
  async fn() {
    await withTempDir(async (tmp) => {
      const mnt = `${tmp}/mnt`;
      await Deno.mkdir(mnt);
      const d = new Daemon(mnt, `${tmp}/data`);
      let stopped = false;
      try {
        await d.ready(mnt);
        const peaks: Record<string, number> = {};
        const step = async (name: string, script: string) => {
          await sh(script, mnt);
          peaks[name] = Math.round(await d.peak() / MiB);
        };
        await step(
          "8 writers",
          "for i in 1 2 3 4 5 6 7 8; do dd if=/dev/zero of=w$i bs=1M count=32 status=none & done; wait",
        );
        // Read back past the page cache (dropped for this file) so that every byte goes
        // through the mount: read-ahead, chunk images, request data.
        await step(
          "sequential read",
          "head -c 320M /dev/urandom > big; dd if=big iflag=nocache count=0 status=none; " +
            "dd if=big of=/dev/null bs=1M status=none",
        );
        await step(
          "mmap writes",
          // Into a sparse file: its hole list is split at random (and must stay bounded).
          "command -v python3 >/dev/null || exit 0; " +
            "truncate -s 64M mm; python3 -c '\n" +
            "import mmap, os, random\n" +
            'fd = os.open("mm", os.O_RDWR)\n' +
            "m = mmap.mmap(fd, 64 << 20); r = random.Random(3)\n" +
            "for k in range(2000):\n" +
            "    o = r.randrange(0, (64 << 20) - 65536); m[o:o + 4096] = os.urandom(4096)\n" +
            "    if k % 200 == 0: m.flush()\n" +
            "m.flush(); m.close(); os.close(fd)'",
        );
        // Sparse files read back whole: mostly holes, served as zeros at stream speed.
        await step(
          "sparse read-back",
          "mkdir s && for i in $(seq 100); do for k in 1 2 3; do " +
            "dd if=/dev/urandom of=s/f$i bs=64K count=1 seek=$((RANDOM % 256)) conv=notrunc " +
            "status=none; done; done && tar cf - s | wc -c > sparse-bytes",
        );
        await step(
          "big directory",
          `mkdir many && cd many && seq 1 ${FILES} | xargs touch && ls -l | wc -l > ../count`,
        );
        console.log(
          `peak RSS after each step (MiB, limit ${LIMIT / MiB}): ${JSON.stringify(peaks)}`,
        );
        assertEquals(
          (await Deno.readTextFile(`${mnt}/count`)).trim(),
          String(FILES + 1),
          "ls -l lists every file",
        );
        assertEquals(await sh("stat -c %s many/1 w8 big", mnt), "0\n33554432\n335544320");
        assert(Number(await Deno.readTextFile(`${mnt}/sparse-bytes`)) > 100 * 65536, "tar read");
        // Inodes become forgettable once idle for a few seconds: `ls -l` just touched them all.
        await waitFor(
          "inodes over the budget handed back to the kernel",
          () =>
            Promise.resolve(d.log.includes("over the inode budget: asking the kernel to forget")),
        );
        for (const [name, peak] of Object.entries(peaks)) {
          assert(
            peak * MiB <= LIMIT,
            `${name}: peak ${peak} MiB over the ${LIMIT / MiB} MiB limit`,
          );
        }
        stopped = true;
        assertEquals(await d.stop(), 0, d.log);
      } finally {
        if (!stopped) await d.stop().catch(() => {});
        await sh(`umount ${mnt} 2>/dev/null || true`);
      }
    });
  },
});
