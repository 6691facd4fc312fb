/**
 * Log lines to the system log (journald or a syslog daemon) through /dev/log: one datagram per
 * line in the format glibc's syslog(3) sends (`<PRI>Mmm dd hh:mm:ss rencfs[pid]: text`), over
 * an AF_UNIX datagram socket made with libc through FFI (Deno has no such socket without
 * --unstable-net).
 */

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** The receiver is gone (a restarted syslog daemon): worth reconnecting. */
const RECONNECT_ERRNOS = new Set([107, /* ENOTCONN */ 111 /* ECONNREFUSED */]);
/** `sa_family_t` (2 bytes) and `sun_path[108]`. */
const SOCKADDR_UN_SIZE = 110;
/** LOG_DAEMON: what a background service logs under. */
const FACILITY_DAEMON = 3;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The syslog socket. */
export const SYSLOG_PATH = "/dev/log";
/** The tag (program name) of every line: `journalctl -t rencfs`. */
export const SYSLOG_TAG = "rencfs";

/** Syslog severities. */
export type Severity = "error" | "warning" | "info" | "debug";
const SEVERITY: Readonly<Record<Severity, number>> = { error: 3, warning: 4, info: 6, debug: 7 };

const encoder = new TextEncoder();

/** A connection to the system log. */
export class Syslog {
  private constructor(
    private readonly lib: Deno.DynamicLibrary<typeof SYMBOLS>,
    private fd: number,
  ) {}

  /** Connects to /dev/log; undefined when there is none (no syslog daemon, no journald). */
  static open(): Syslog | undefined {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen("libc.so.6", SYMBOLS);
    } catch {
      return undefined;
    }
    const fd = connect(lib);
    if (fd < 0) {
      lib.close();
      return undefined;
    }
    return new Syslog(lib, fd);
  }

  /**
   * Sends one line; a syslog daemon that restarted is reconnected to once. A full queue
   * (EAGAIN) drops the line: reconnecting would not empty it.
   */
  send(severity: Severity, text: string): boolean {
    const msg = encoder.encode(format(severity, text));
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.fd >= 0) {
        const n = this.lib.symbols.send(
          this.fd,
          msg,
          BigInt(msg.length),
          MSG_DONTWAIT | MSG_NOSIGNAL,
        );
        if (Number(n) === msg.length) return true;
        if (!RECONNECT_ERRNOS.has(this.#errno())) return false;
        this.lib.symbols.close(this.fd);
      }
      this.fd = connect(this.lib);
    }
    return false;
  }

  // errno of the JS thread, right after the synchronous call that failed.
  #errno(): number {
    const p = this.lib.symbols.__errno_location();
    return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
  }

  close(): void {
    if (this.fd >= 0) this.lib.symbols.close(this.fd);
    this.fd = -1;
  }
}

function connect(lib: Deno.DynamicLibrary<typeof SYMBOLS>): number {
  const fd = lib.symbols.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const addr = new Uint8Array(SOCKADDR_UN_SIZE);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(encoder.encode(SYSLOG_PATH), 2);
  if (lib.symbols.connect(fd, addr, SOCKADDR_UN_SIZE) !== 0) {
    lib.symbols.close(fd);
    return -1;
  }
  return fd;
}

/** RFC 3164 as glibc writes it; the local time, as syslog daemons expect. */
function format(severity: Severity, text: string): string {
  const d = new Date();
  const two = (n: number) => String(n).padStart(2, "0");
  const stamp = `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  const pri = FACILITY_DAEMON * 8 + SEVERITY[severity];
  return `<${pri}>${stamp} ${SYSLOG_TAG}[${Deno.pid}]: ${text.replace(/\n+$/, "")}`;
}
