/**
 * A connected AF_UNIX datagram socket (what the system log listens on at /dev/log), made with
 * libc: Deno has no such socket without --unstable-net.
 *
 * @module
 */
import { lastError, libcIfAvailable } from "./libc.ts";
import { SysError } from "./sys_error.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** `sa_family_t` (2 bytes) and `sun_path[108]`. */
const SOCKADDR_UN_SIZE = 110;
const ENOSYS = 38;

const encoder = new TextEncoder();

/** A datagram socket connected to one AF_UNIX path. */
export class UnixDatagram {
  private constructor(readonly path: string, private fd: number) {}

  /**
   * Connects to the socket at `path`. Throws a {@link SysError}: ENOENT or ECONNREFUSED when
   * nothing listens there, ENOSYS without FFI.
   */
  static connect(path: string): UnixDatagram {
    const c = libcIfAvailable();
    if (!c) throw new SysError(ENOSYS, "socket", path);
    const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw lastError("socket", path);
    const addr = new Uint8Array(SOCKADDR_UN_SIZE);
    new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
    addr.set(encoder.encode(path).subarray(0, SOCKADDR_UN_SIZE - 3), 2);
    if (c.connect(fd, addr, SOCKADDR_UN_SIZE) !== 0) {
      const e = lastError("connect", path);
      c.close(fd);
      throw e;
    }
    return new UnixDatagram(path, fd);
  }

  /**
   * Sends one datagram without waiting (a full queue is EAGAIN) and without SIGPIPE. Throws a
   * {@link SysError}; ENOTCONN after {@link close}.
   */
  send(msg: Uint8Array<ArrayBuffer>): void {
    const c = libcIfAvailable();
    if (!c || this.fd < 0) throw new SysError(107, /* ENOTCONN */ "send", this.path);
    const n = Number(c.send(this.fd, msg, BigInt(msg.length), MSG_DONTWAIT | MSG_NOSIGNAL));
    if (n < 0) throw lastError("send", this.path);
    // A datagram goes whole or not at all; a short count would be a kernel surprise.
    if (n !== msg.length) throw new SysError(90, /* EMSGSIZE */ "send", this.path);
  }

  /** Closes the socket; idempotent. */
  close(): void {
    if (this.fd >= 0) libcIfAvailable()?.close(this.fd);
    this.fd = -1;
  }
}
