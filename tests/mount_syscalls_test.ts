/**
 * Real mounts driven by system calls from a child Deno process (node:fs, and libc through FFI
 * for calls node:fs lacks): open flags, rename flags, unlinked-but-open files, xattr sizes.
 * Needs root, /dev/fuse and libfuse3; skipped otherwise.
 */

import { assertEquals, ignore, inChild, withMount } from "./mount_helpers.ts";

Deno.test({
  name:
    "mount: open flags O_TRUNC, O_APPEND, O_EXCL, O_WRONLY and O_RDONLY behave as on a local fs",
  ignore,
  async fn() {
    await withMount(async ({ mnt }) => {
      const got = await inChild<Record<string, unknown>>(
        mnt,
        `
        const f = MNT + "/f";
        fs.writeFileSync(f, "0123456789");
        const r: Record<string, unknown> = {};
        let fd = fs.openSync(f, "r+");
        fs.writeSync(fd, "ab", 0, "utf8");
        fs.closeSync(fd);
        r.rplus = fs.readFileSync(f, "utf8");
        fd = fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_TRUNC);
        r.truncSize = fs.fstatSync(fd).size;
        fs.writeSync(fd, "xyz");
        fs.closeSync(fd);
        r.trunc = fs.readFileSync(f, "utf8");
        fd = fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_APPEND);
        fs.writeSync(fd, "12", 0, "utf8"); // the position is ignored with O_APPEND
        fs.writeSync(fd, "34");
        fs.closeSync(fd);
        r.append = fs.readFileSync(f, "utf8");
        r.excl = errCode(() => fs.openSync(f, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY));
        fd = fs.openSync(f, "w"); // O_WRONLY|O_CREAT|O_TRUNC
        fs.writeSync(fd, "hello world");
        r.readWriteOnly = errCode(() => fs.readSync(fd, new Uint8Array(4), 0, 4, 0));
        fs.closeSync(fd);
        fd = fs.openSync(f, "r");
        r.writeReadOnly = errCode(() => fs.writeSync(fd, "x"));
        fs.closeSync(fd);
        // A partial-page write into a file opened write-only (the writeback cache reads first).
        fd = fs.openSync(f, "r+");
        fs.writeSync(fd, new TextEncoder().encode("W"), 0, 1, 6);
        fs.closeSync(fd);
        r.partial = fs.readFileSync(f, "utf8");
        r.dirOpenWrite = errCode(() => fs.openSync(MNT, "r+"));
        r.missing = errCode(() => fs.openSync(MNT + "/nope", "r"));
        r.notDir = errCode(() => fs.openSync(f + "/x", "r"));
        out(r);
        `,
      );
      assertEquals(got, {
        rplus: "ab23456789",
        truncSize: 0,
        trunc: "xyz",
        append: "xyz1234",
        excl: "EEXIST",
        readWriteOnly: "EBADF",
        writeReadOnly: "EBADF",
        partial: "hello World",
        dirOpenWrite: "EISDIR",
        missing: "ENOENT",
        notDir: "ENOTDIR",
      });
    });
  },
});

Deno.test({
  name: "mount: an unlinked file stays readable and writable through open descriptors",
  ignore,
  async fn() {
    await withMount(async ({ mnt }) => {
      const got = await inChild<Record<string, unknown>>(
        mnt,
        `
        const f = MNT + "/gone";
        fs.writeFileSync(f, "still here");
        const fd = fs.openSync(f, "r+");
        fs.unlinkSync(f);
        const r: Record<string, unknown> = {};
        r.listed = fs.readdirSync(MNT);
        r.exists = fs.existsSync(f);
        fs.writeSync(fd, "STILL", 0);
        const buf = new Uint8Array(10);
        fs.readSync(fd, buf, 0, 10, 0);
        r.content = new TextDecoder().decode(buf);
        r.nlink = fs.fstatSync(fd).nlink;
        fs.closeSync(fd);
        fs.writeFileSync(f, "new");
        r.recreated = fs.readFileSync(f, "utf8");
        out(r);
        `,
      );
      assertEquals(got, {
        listed: [],
        exists: false,
        content: "STILL here",
        nlink: 0,
        recreated: "new",
      });
    });
  },
});

Deno.test({
  name:
    "mount: rename with RENAME_NOREPLACE and RENAME_EXCHANGE (renameat2), and plain rename over",
  ignore,
  async fn() {
    await withMount(async ({ mnt }) => {
      const got = await inChild<Record<string, unknown>>(
        mnt,
        `
        const libc = Deno.dlopen("libc.so.6", {
          renameat2: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
          __errno_location: { parameters: [], result: "pointer" },
        });
        const c = (s: string) => new TextEncoder().encode(s + "\\0");
        const AT_FDCWD = -100;
        function rename2(a: string, b: string, flags: number): number {
          const r = libc.symbols.renameat2(AT_FDCWD, c(a), AT_FDCWD, c(b), flags);
          return r === 0 ? 0 : new Deno.UnsafePointerView(libc.symbols.__errno_location()!).getInt32();
        }
        const a = MNT + "/a", b = MNT + "/b";
        fs.writeFileSync(a, "A");
        fs.writeFileSync(b, "B");
        fs.mkdirSync(MNT + "/d");
        fs.writeFileSync(MNT + "/d/inner", "I");
        const r: Record<string, unknown> = {};
        r.noreplace = rename2(a, b, 1); // EEXIST = 17
        r.exchange = rename2(a, b, 2);
        r.afterExchange = [fs.readFileSync(a, "utf8"), fs.readFileSync(b, "utf8")];
        r.exchangeDir = rename2(a, MNT + "/d", 2);
        r.afterDirExchange = [fs.statSync(a).isDirectory(), fs.readFileSync(MNT + "/d", "utf8")];
        r.whiteout = rename2(b, MNT + "/c", 4); // EINVAL = 22
        fs.renameSync(b, MNT + "/d");
        r.over = fs.readFileSync(MNT + "/d", "utf8");
        r.names = fs.readdirSync(MNT).sort();
        fs.mkdirSync(MNT + "/e");
        r.dirOverFile = errCode(() => fs.renameSync(MNT + "/e", MNT + "/d"));
        fs.mkdirSync(MNT + "/a/sub");
        r.intoItself = errCode(() => fs.renameSync(MNT + "/a", MNT + "/a/sub/x"));
        out(r);
        `,
      );
      assertEquals(got, {
        noreplace: 17,
        exchange: 0,
        afterExchange: ["B", "A"],
        exchangeDir: 0,
        afterDirExchange: [true, "B"],
        whiteout: 22,
        over: "A",
        names: ["a", "d"],
        dirOverFile: "ENOTDIR",
        intoItself: "EINVAL",
      });
    });
  },
});

Deno.test({
  name: "mount: getxattr/listxattr answer the size for a 0-byte buffer and ERANGE when too small",
  ignore,
  async fn() {
    await withMount(async ({ mnt }) => {
      const got = await inChild<Record<string, unknown>>(
        mnt,
        `
        const libc = Deno.dlopen("libc.so.6", {
          setxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
          getxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
          listxattr: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
          __errno_location: { parameters: [], result: "pointer" },
        });
        const errno = () => new Deno.UnsafePointerView(libc.symbols.__errno_location()!).getInt32();
        const c = (s: string) => new TextEncoder().encode(s + "\\0");
        const f = MNT + "/x";
        fs.writeFileSync(f, "");
        const value = new TextEncoder().encode("0123456789");
        const r: Record<string, unknown> = {};
        r.set = libc.symbols.setxattr(c(f), c("user.ten"), value, 10n, 0);
        r.setCreateExisting = libc.symbols.setxattr(c(f), c("user.ten"), value, 10n, 1) === -1 ? errno() : 0;
        r.setReplaceMissing = libc.symbols.setxattr(c(f), c("user.new"), value, 10n, 2) === -1 ? errno() : 0;
        r.size = Number(libc.symbols.getxattr(c(f), c("user.ten"), null, 0n));
        const small = new Uint8Array(4);
        r.small = libc.symbols.getxattr(c(f), c("user.ten"), small, 4n) === -1n ? errno() : "ok";
        const big = new Uint8Array(64);
        const n = Number(libc.symbols.getxattr(c(f), c("user.ten"), big, 64n));
        r.value = new TextDecoder().decode(big.subarray(0, n));
        r.listSize = Number(libc.symbols.listxattr(c(f), null, 0n));
        r.listSmall = libc.symbols.listxattr(c(f), new Uint8Array(3), 3n) === -1n ? errno() : "ok";
        r.missing = libc.symbols.getxattr(c(f), c("user.none"), big, 64n) === -1n ? errno() : "ok";
        r.acl = libc.symbols.setxattr(c(f), c("system.posix_acl_access"), value, 10n, 0) === -1 ? errno() : 0;
        out(r);
        `,
      );
      assertEquals(got, {
        set: 0,
        setCreateExisting: 17, // EEXIST
        setReplaceMissing: 61, // ENODATA
        size: 10,
        small: 34, // ERANGE
        value: "0123456789",
        listSize: 9, // "user.ten\\0"
        listSmall: 34,
        missing: 61,
        acl: 95, // EOPNOTSUPP: no POSIX ACLs
      });
    });
  },
});
