/**
 * The one error type of the OS boundary (`ffi/sys_error.ts`): a failing system call gives a
 * SysError with the right errno, name, call and path, from each kind of ffi call (file I/O, the
 * data dir lock, a socket, a worker's own libc binding), and the filesystem's errno mapping
 * reads it like the node:fs and Deno errors it already knew.
 */
import { throws } from "node:assert/strict";
import { assertEquals } from "./helpers/assert.ts";
import { errnoName, errorCode, SysError, sysError } from "../ffi/sys_error.ts";
import { sysOpen, sysPread } from "../ffi/sysio.ts";
import { DataDirBusyError, DirLock } from "../ffi/dirlock.ts";
import { UnixDatagram } from "../ffi/unix_dgram.ts";
import { fromIoError } from "../src/fs/errors.ts";

const missing = "/nonexistent-rencfs-dir/file";

Deno.test("open of a missing path gives SysError ENOENT with the call and the path", () => {
  const r = sysOpen(missing, 0);
  assertEquals(r, -2);
  const e = sysError(r, "open", missing);
  assertEquals(e instanceof SysError && e instanceof Error, true);
  assertEquals([e.errno, e.code, e.syscall, e.path], [2, "ENOENT", "open", missing]);
  assertEquals(e.message, `ENOENT: open '${missing}'`);
});

Deno.test("pread of a closed descriptor reads errno EBADF on this thread", () => {
  assertEquals(sysPread(1_000_000, new Uint8Array(8), 0), -9);
  assertEquals(errnoName(-9), "EBADF");
});

Deno.test("errno names: aliases as the code tests them, Linux keyring names, unknown numbers", () => {
  assertEquals(errnoName(95), "EOPNOTSUPP");
  assertEquals(errnoName(11), "EAGAIN");
  assertEquals(errnoName(127), "EKEYEXPIRED");
  assertEquals(errnoName(28), "ENOSPC");
  assertEquals(errnoName(4000), "E4000");
});

Deno.test("locking a missing data dir throws SysError ENOENT; a held one DataDirBusyError", () => {
  throws(
    () => DirLock.acquire(missing, false),
    (e) => e instanceof SysError && e.errno === 2 && e.syscall === "open" && e.path === missing,
  );
  const dir = Deno.makeTempDirSync();
  const held = DirLock.acquire(dir, false);
  try {
    throws(
      () => DirLock.acquire(dir, true),
      (e) => e instanceof DataDirBusyError && e instanceof SysError && e.code === "EAGAIN",
    );
  } finally {
    held.release();
    Deno.removeSync(dir);
  }
});

Deno.test("connecting a datagram socket: ENOENT for no socket, ECONNREFUSED for a file", () => {
  throws(() => UnixDatagram.connect(missing), (e) => e instanceof SysError && e.errno === 2);
  const file = Deno.makeTempFileSync();
  try {
    throws(
      () => UnixDatagram.connect(file),
      (e) => e instanceof SysError && e.code === "ECONNREFUSED" && e.syscall === "connect",
    );
  } finally {
    Deno.removeSync(file);
  }
});

Deno.test("a worker binds libc itself and reads its own errno", async () => {
  const sysio = JSON.stringify(new URL("../ffi/sysio.ts", import.meta.url).href);
  const code = `import { sysOpen, sysError } from ${sysio};
    const r = sysOpen(${JSON.stringify(missing)}, 0);
    const e = sysError(r, "open");
    self.postMessage({ r, errno: e.errno, code: e.code });`;
  const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
  const w = new Worker(url, { type: "module" });
  try {
    const got = await new Promise<unknown>((resolve, reject) => {
      w.onmessage = (ev) => resolve(ev.data);
      w.onerror = (ev) => {
        ev.preventDefault();
        reject(new Error(ev.message));
      };
    });
    assertEquals(got, { r: -2, errno: 2, code: "ENOENT" });
  } finally {
    w.terminate();
    URL.revokeObjectURL(url);
  }
});

Deno.test("the errno mapping of the filesystem reads SysError, node:fs and Deno errors alike", () => {
  const errors: unknown[] = [new SysError(28, "pwrite", "/x"), undefined, undefined];
  try {
    Deno.openSync(missing);
  } catch (e) {
    errors[1] = e;
  }
  try {
    Deno.mkdirSync(Deno.cwd());
  } catch (e) {
    errors[2] = e;
  }
  assertEquals(errors.map(errorCode), ["ENOSPC", "ENOENT", "EEXIST"]);
  assertEquals(errors.map((e) => fromIoError(e, "op").code), ["ENOSPC", "ENOENT", "EEXIST"]);
});
