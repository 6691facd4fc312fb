/**
 * Log lines to the system log (journald or a syslog daemon) through /dev/log: one datagram per
 * line in the format glibc's syslog(3) sends (`<PRI>Mmm dd hh:mm:ss rencfs[pid]: text`), over
 * an AF_UNIX datagram socket (`ffi/unix_dgram.ts`).
 */
import { UnixDatagram } from "../../ffi/unix_dgram.ts";
import { SysError } from "../../ffi/sys_error.ts";

/** The receiver is gone (a restarted syslog daemon): worth reconnecting. */
const RECONNECT_ERRNOS = new Set([107, /* ENOTCONN */ 111 /* ECONNREFUSED */]);
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
  private constructor(private socket: UnixDatagram | undefined) {}

  /** Connects to /dev/log; undefined when there is none (no syslog daemon, no journald). */
  static open(): Syslog | undefined {
    const socket = connect();
    return socket && new Syslog(socket);
  }

  /**
   * Sends one line; a syslog daemon that restarted is reconnected to once. A full queue
   * (EAGAIN) drops the line: reconnecting would not empty it.
   */
  send(severity: Severity, text: string): boolean {
    const msg = encoder.encode(format(severity, text));
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.socket) {
        try {
          this.socket.send(msg);
          return true;
        } catch (e) {
          if (!(e instanceof SysError && RECONNECT_ERRNOS.has(e.errno))) return false;
        }
        this.socket.close();
      }
      this.socket = connect();
    }
    return false;
  }

  /** Closes the connection. */
  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }
}

function connect(): UnixDatagram | undefined {
  try {
    return UnixDatagram.connect(SYSLOG_PATH);
  } catch {
    return undefined;
  }
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
