/**
 * Checks every struct offset, size and constant in `ffi/layouts.ts` against the system headers:
 * compiles a small C program with gcc against <fuse_lowlevel.h> (FUSE_USE_VERSION 312),
 * <sys/stat.h>, <sys/statvfs.h> … and compares what it prints. Skips (with the reason) when gcc or
 * the libfuse3 headers are absent: `apt-get install gcc libfuse3-dev`.
 */

import {
  Args,
  Cap,
  ConnInfo,
  Ctx,
  EntryParam,
  FileInfo,
  FileInfoBits,
  ForgetData,
  FuseBuf,
  FuseBufVec,
  Iovec,
  Libc,
  LowlevelOps,
  PollFd,
  SetAttr,
  Stat,
  Statvfs,
} from "../ffi/layouts.ts";

/** Expected `name value` pairs, as the C program prints them. */
function expected(): Map<string, number> {
  const m = new Map<string, number>();
  const put = (k: string, v: number) => m.set(k, v);
  const stat: [string, number][] = [
    ["st_dev", Stat.dev],
    ["st_ino", Stat.ino],
    ["st_nlink", Stat.nlink],
    ["st_mode", Stat.mode],
    ["st_uid", Stat.uid],
    ["st_gid", Stat.gid],
    ["st_rdev", Stat.rdev],
    ["st_size", Stat.size_],
    ["st_blksize", Stat.blksize],
    ["st_blocks", Stat.blocks],
    ["st_atim.tv_sec", Stat.atimSec],
    ["st_atim.tv_nsec", Stat.atimNsec],
    ["st_mtim.tv_sec", Stat.mtimSec],
    ["st_mtim.tv_nsec", Stat.mtimNsec],
    ["st_ctim.tv_sec", Stat.ctimSec],
    ["st_ctim.tv_nsec", Stat.ctimNsec],
  ];
  put("sizeof(stat)", Stat.size);
  for (const [f, v] of stat) put(`stat.${f}`, v);

  put("sizeof(statvfs)", Statvfs.size);
  for (const f of ["bsize", "frsize", "blocks", "bfree", "bavail", "files", "ffree", "favail"]) {
    put(`statvfs.f_${f}`, Statvfs[f as keyof typeof Statvfs]);
  }
  put("statvfs.f_fsid", Statvfs.fsid);
  put("statvfs.f_flag", Statvfs.flag);
  put("statvfs.f_namemax", Statvfs.namemax);

  put("sizeof(fuse_entry_param)", EntryParam.size);
  put("fuse_entry_param.ino", EntryParam.ino);
  put("fuse_entry_param.generation", EntryParam.generation);
  put("fuse_entry_param.attr", EntryParam.attr);
  put("fuse_entry_param.attr_timeout", EntryParam.attrTimeout);
  put("fuse_entry_param.entry_timeout", EntryParam.entryTimeout);

  put("sizeof(fuse_file_info)", FileInfo.size);
  put("fuse_file_info.flags", FileInfo.flags);
  put("fuse_file_info.fh", FileInfo.fh);
  put("fuse_file_info.lock_owner", FileInfo.lockOwner);
  put("fuse_file_info.poll_events", FileInfo.pollEvents);
  put("fuse_file_info.bits_offset", FileInfo.bits);
  put("fuse_file_info.writepage", FileInfoBits.writepage);
  put("fuse_file_info.direct_io", FileInfoBits.directIo);
  put("fuse_file_info.keep_cache", FileInfoBits.keepCache);
  put("fuse_file_info.flush", FileInfoBits.flush);
  put("fuse_file_info.nonseekable", FileInfoBits.nonseekable);
  put("fuse_file_info.flock_release", FileInfoBits.flockRelease);
  put("fuse_file_info.cache_readdir", FileInfoBits.cacheReaddir);
  put("fuse_file_info.noflush", FileInfoBits.noflush);

  put("sizeof(fuse_conn_info)", ConnInfo.size);
  put("fuse_conn_info.proto_major", ConnInfo.protoMajor);
  put("fuse_conn_info.proto_minor", ConnInfo.protoMinor);
  put("fuse_conn_info.max_write", ConnInfo.maxWrite);
  put("fuse_conn_info.max_read", ConnInfo.maxRead);
  put("fuse_conn_info.max_readahead", ConnInfo.maxReadahead);
  put("fuse_conn_info.capable", ConnInfo.capable);
  put("fuse_conn_info.want", ConnInfo.want);
  put("fuse_conn_info.max_background", ConnInfo.maxBackground);
  put("fuse_conn_info.congestion_threshold", ConnInfo.congestionThreshold);
  put("fuse_conn_info.time_gran", ConnInfo.timeGran);

  put("sizeof(fuse_buf)", FuseBuf.size);
  put("fuse_buf.size", FuseBuf.size_);
  put("fuse_buf.flags", FuseBuf.flags);
  put("fuse_buf.mem", FuseBuf.mem);
  put("fuse_buf.fd", FuseBuf.fd);
  put("fuse_buf.pos", FuseBuf.pos);
  put("sizeof(fuse_bufvec)", FuseBufVec.size);
  put("fuse_bufvec.count", FuseBufVec.count);
  put("fuse_bufvec.idx", FuseBufVec.idx);
  put("fuse_bufvec.off", FuseBufVec.off);
  put("fuse_bufvec.buf", FuseBufVec.buf);

  put("fuse_ctx.uid", Ctx.uid);
  put("fuse_ctx.gid", Ctx.gid);
  put("fuse_ctx.pid", Ctx.pid);
  put("fuse_ctx.umask", Ctx.umask);

  put("sizeof(fuse_args)", Args.size);
  put("fuse_args.argc", Args.argc);
  put("fuse_args.argv", Args.argv);
  put("fuse_args.allocated", Args.allocated);

  put("sizeof(fuse_forget_data)", ForgetData.size);
  put("fuse_forget_data.ino", ForgetData.ino);
  put("fuse_forget_data.nlookup", ForgetData.nlookup);

  put("sizeof(pollfd)", PollFd.size);
  put("pollfd.fd", PollFd.fd);
  put("pollfd.events", PollFd.events);
  put("pollfd.revents", PollFd.revents);

  put("sizeof(iovec)", Iovec.size);
  put("iovec.iov_base", Iovec.base);
  put("iovec.iov_len", Iovec.len);

  put("sizeof(fuse_lowlevel_ops)", LowlevelOps.size);
  for (const [name, slot] of Object.entries(LowlevelOps.slots)) put(`ops.${name}`, slot);

  for (const [name, v] of Object.entries(Cap)) put(`FUSE_CAP_${name}`, v);
  for (const [name, v] of Object.entries(SetAttr)) put(`FUSE_SET_ATTR_${name}`, v);
  for (const [name, v] of Object.entries(Libc)) put(name, v);
  return m;
}

/** The C program: one `name value` line per checked number. */
function cSource(): string {
  const lines: string[] = [];
  const off = (t: string, f: string, label = f) =>
    lines.push(`  P("${t}.${label}", offsetof(struct ${t}, ${f}));`);
  const size = (t: string) => lines.push(`  P("sizeof(${t})", sizeof(struct ${t}));`);
  size("stat");
  for (
    const f of [
      "st_dev",
      "st_ino",
      "st_nlink",
      "st_mode",
      "st_uid",
      "st_gid",
      "st_rdev",
      "st_size",
      "st_blksize",
      "st_blocks",
      "st_atim.tv_sec",
      "st_atim.tv_nsec",
      "st_mtim.tv_sec",
      "st_mtim.tv_nsec",
      "st_ctim.tv_sec",
      "st_ctim.tv_nsec",
    ]
  ) off("stat", f);
  size("statvfs");
  for (
    const f of [
      "bsize",
      "frsize",
      "blocks",
      "bfree",
      "bavail",
      "files",
      "ffree",
      "favail",
      "fsid",
      "flag",
      "namemax",
    ]
  ) off("statvfs", `f_${f}`);
  size("fuse_entry_param");
  for (const f of ["ino", "generation", "attr", "attr_timeout", "entry_timeout"]) {
    off("fuse_entry_param", f);
  }
  size("fuse_file_info");
  for (const f of ["flags", "fh", "lock_owner", "poll_events"]) off("fuse_file_info", f);
  // Bitfields: set one, find which bit of the u32 after `flags` changed.
  lines.push(`  P("fuse_file_info.bits_offset", offsetof(struct fuse_file_info, flags) + 4);`);
  for (
    const f of [
      "writepage",
      "direct_io",
      "keep_cache",
      "flush",
      "nonseekable",
      "flock_release",
      "cache_readdir",
      "noflush",
    ]
  ) {
    lines.push(
      `  { struct fuse_file_info fi; memset(&fi, 0, sizeof fi); fi.${f} = 1; uint32_t u; ` +
        `memcpy(&u, (char *)&fi + 4, 4); P("fuse_file_info.${f}", u); }`,
    );
  }
  size("fuse_conn_info");
  for (
    const f of [
      "proto_major",
      "proto_minor",
      "max_write",
      "max_read",
      "max_readahead",
      "capable",
      "want",
      "max_background",
      "congestion_threshold",
      "time_gran",
    ]
  ) off("fuse_conn_info", f);
  size("fuse_buf");
  for (const f of ["size", "flags", "mem", "fd", "pos"]) off("fuse_buf", f);
  size("fuse_bufvec");
  for (const f of ["count", "idx", "off", "buf"]) off("fuse_bufvec", f);
  for (const f of ["uid", "gid", "pid", "umask"]) off("fuse_ctx", f);
  size("fuse_args");
  for (const f of ["argc", "argv", "allocated"]) off("fuse_args", f);
  size("fuse_forget_data");
  for (const f of ["ino", "nlookup"]) off("fuse_forget_data", f);
  size("pollfd");
  for (const f of ["fd", "events", "revents"]) off("pollfd", f);
  size("iovec");
  for (const f of ["iov_base", "iov_len"]) off("iovec", f);
  size("fuse_lowlevel_ops");
  for (const name of Object.keys(LowlevelOps.slots)) {
    lines.push(`  P("ops.${name}", offsetof(struct fuse_lowlevel_ops, ${name}) / sizeof(void *));`);
  }
  for (const name of Object.keys(Cap)) lines.push(`  P("FUSE_CAP_${name}", FUSE_CAP_${name});`);
  for (const name of Object.keys(SetAttr)) {
    lines.push(`  P("FUSE_SET_ATTR_${name}", FUSE_SET_ATTR_${name});`);
  }
  for (const name of Object.keys(Libc)) lines.push(`  P("${name}", ${name});`);
  return [
    "#define FUSE_USE_VERSION 312",
    "#define _GNU_SOURCE",
    "#include <fuse_lowlevel.h>",
    "#include <sys/stat.h>",
    "#include <sys/statvfs.h>",
    "#include <sys/mount.h>",
    "#include <poll.h>",
    "#include <sys/uio.h>",
    "#include <fcntl.h>",
    "#include <unistd.h>",
    "#include <stddef.h>",
    "#include <stdint.h>",
    "#include <stdio.h>",
    "#include <string.h>",
    '#define P(name, v) printf("%s %lld\\n", name, (long long)(v))',
    "int main(void) {",
    ...lines,
    "  return 0;",
    "}",
    "",
  ].join("\n");
}

async function tryRun(cmd: string, args: string[]): Promise<Deno.CommandOutput | undefined> {
  try {
    return await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  } catch {
    return undefined;
  }
}

/** Why the test cannot run here, or undefined when gcc and the headers are present. */
async function missingTools(): Promise<string | undefined> {
  if (!(await tryRun("gcc", ["--version"]))?.success) {
    return "gcc not found (apt-get install gcc)";
  }
  const hdr = ["/usr/include/fuse3/fuse_lowlevel.h", "/usr/local/include/fuse3/fuse_lowlevel.h"];
  for (const h of hdr) {
    try {
      await Deno.stat(h);
      return undefined;
    } catch {
      // next
    }
  }
  return "libfuse3 headers not found (apt-get install libfuse3-dev)";
}

const skip = await missingTools();
if (skip) console.warn(`ffi_layout_test skipped: ${skip}`);

Deno.test({
  name: "ffi/layouts.ts matches the C headers (gcc offsetof/sizeof)",
  ignore: skip !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rencfs-layout-" });
    try {
      await Deno.writeTextFile(`${dir}/layout.c`, cSource());
      const pc = await tryRun("pkg-config", ["--cflags", "fuse3"]);
      const cflags = pc?.success
        ? new TextDecoder().decode(pc.stdout).trim().split(/\s+/).filter(Boolean)
        : ["-I/usr/include/fuse3", "-I/usr/local/include/fuse3"];
      const cc = await tryRun("gcc", [...cflags, "-o", `${dir}/layout`, `${dir}/layout.c`]);
      if (!cc?.success) {
        throw new Error(`gcc failed:\n${new TextDecoder().decode(cc?.stderr ?? new Uint8Array())}`);
      }
      const out = await tryRun(`${dir}/layout`, []);
      if (!out?.success) throw new Error("layout program failed");
      const got = new Map<string, number>();
      for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
        const [k, v] = line.split(" ");
        if (k) got.set(k, Number(v));
      }
      const want = expected();
      const wrong: string[] = [];
      for (const [k, v] of want) {
        if (!got.has(k)) wrong.push(`${k}: not printed by the C program`);
        else if (got.get(k) !== v) wrong.push(`${k}: layouts.ts says ${v}, C says ${got.get(k)}`);
      }
      if (wrong.length) throw new Error(`layout mismatches:\n  ${wrong.join("\n  ")}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
