/**
 * service=simpletcp negotiate check (Perl check_simpletcp): open a socket with the
 * virtual's protocol, send the request (its leading '/' dropped, literal `\n` turned into
 * newlines), half-close (TCP), then read lines until one matches `receive` (a Perl regex
 * on bytes, unanchored). A null receive (empty in the config) means any line will do.
 *
 * Lines are matched with their trailing newline, as Perl's `<$sock>` returns them; a last
 * line without one counts when the server closes. Over UDP the end of a datagram also
 * ends a line (Perl waited for a newline that a datagram service rarely sends, so a
 * reply such as "OK" without one timed out). At most READ_CAP bytes are read.
 */
import { createConnection, isIPv6 } from 'node:net';
import { createSocket } from 'node:dgram';
import { READ_CAP, aborted, down, failed, quoted, session, up, type Verdict } from './kernel';
import { defineKind, negotiateBase, type Receive } from './kind';

export interface SimpleTcpSpec {
  kind: 'simpletcp';
  host: string;
  port: number;
  udp: boolean;
  /** Bytes to send (request without leading '/', literal \n sequences as newlines). */
  send: string;
  receive: Receive | null;
  timeoutMs: number;
}

export const simpletcp = defineKind<SimpleTcpSpec>({
  services: { simpletcp: null },
  usesReceive: true,
  spec: (t) => ({
    kind: 'simpletcp',
    ...negotiateBase(t),
    udp: t.protocol === 'udp',
    send: t.request.slice(1).replace(/\\n/g, '\n'),
    receive: t.receive,
  }),
  run: (spec, { signal }) => (spec.udp ? udp(spec, signal) : tcp(spec, signal)),
});

/**
 * Splits bytes into lines and tests each one against `receive`. A line in the making is
 * kept as Buffers and only the new bytes are searched for its end, so a server sending a
 * megabyte without a newline, a byte at a time, costs linear time, not quadratic.
 */
class LineMatcher {
  private pending: Buffer[] = [];
  private total = 0;
  private lines = 0;
  private first: string | null = null;

  constructor(private readonly receive: Receive | null) {}

  private test(line: string): Verdict | null {
    this.lines++;
    this.first ??= line;
    const shown = quoted(line.replace(/\r?\n$/, ''));
    if (this.receive === null) return up(`simpletcp: got a line: ${shown}`);
    if (this.receive.test(line)) return up(`simpletcp: line ${this.lines} matched: ${shown}`);
    return null;
  }

  private takeLine(last: Buffer): Verdict | null {
    this.pending.push(last);
    const line = Buffer.concat(this.pending).toString('latin1');
    this.pending = [];
    return this.test(line);
  }

  /** Feed bytes; a verdict when a line matched or the read cap was reached. */
  feed(chunk: Buffer, endsLine: boolean): Verdict | null {
    const room = READ_CAP - this.total;
    const take = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.total += take.length;
    let start = 0;
    for (let nl = take.indexOf(0x0a); nl >= 0; nl = take.indexOf(0x0a, start)) {
      const r = this.takeLine(take.subarray(start, nl + 1));
      start = nl + 1;
      if (r) return r;
    }
    if (start < take.length) this.pending.push(take.subarray(start));
    if (endsLine && this.pending.length) {
      const r = this.takeLine(Buffer.alloc(0));
      if (r) return r;
    }
    if (this.total >= READ_CAP) return down('mismatch', `simpletcp: ${this.summary()} in the first ${READ_CAP} bytes`);
    return null;
  }

  /** The server closed: the last line without newline counts. */
  end(): Verdict {
    if (this.pending.length) {
      const r = this.takeLine(Buffer.alloc(0));
      if (r) return r;
    }
    return down(this.lines ? 'mismatch' : 'closed', `simpletcp: ${this.summary()} before the server closed`);
  }

  summary(): string {
    if (this.lines === 0) return 'no line received';
    const first = quoted(this.first!.replace(/\r?\n$/, ''));
    return `no line matched receive (${this.lines} line${this.lines === 1 ? '' : 's'}, first ${first})`;
  }
}

function tcp(spec: SimpleTcpSpec, signal: AbortSignal): Promise<Verdict> {
  let connected = false;
  const lines = new LineMatcher(spec.receive);
  return session(
    signal,
    (settle) => {
      const sock = createConnection({ host: spec.host, port: spec.port });
      sock.once('connect', () => {
        connected = true;
        // Perl: print $sock $request; shutdown($sock, SHUT_WR).
        sock.end(spec.send, 'utf8');
      });
      sock.on('data', (chunk: Buffer) => {
        const r = lines.feed(chunk, false);
        if (r) settle(r);
      });
      sock.once('end', () => settle(lines.end()));
      sock.once('error', (e) =>
        settle(connected ? failed(e, `simpletcp: ${lines.summary()}; `) : failed(e, 'connect ')),
      );
      return () => sock.destroy();
    },
    () => aborted(signal, connected ? `simpletcp: ${lines.summary()}; ` : 'connect: '),
  );
}

function udp(spec: SimpleTcpSpec, signal: AbortSignal): Promise<Verdict> {
  const lines = new LineMatcher(spec.receive);
  return session(
    signal,
    (settle) => {
      const sock = createSocket(isIPv6(spec.host) ? 'udp6' : 'udp4');
      let closed = false;
      // A connected datagram socket, as Perl's ld_open_socket: replies come only from the
      // real server, and an ICMP port-unreachable surfaces as ECONNREFUSED.
      sock.once('error', (e) => settle(failed(e, `simpletcp (udp): ${lines.summary()}; `)));
      sock.on('message', (msg: Buffer) => {
        const r = lines.feed(msg, true);
        if (r) settle(r);
      });
      sock.connect(spec.port, spec.host, () => {
        // Perl's print of an empty request writes nothing.
        if (!closed && spec.send !== '') sock.send(Buffer.from(spec.send, 'utf8'));
      });
      return () => {
        closed = true;
        sock.close();
      };
    },
    () => aborted(signal, `simpletcp (udp): ${lines.summary()}; `),
  );
}
