/**
 * service=simpletcp negotiate check (Perl check_simpletcp): open a socket with the
 * virtual's protocol, send the request (target.ts already dropped its leading '/' and
 * turned literal `\n` into newlines), half-close (TCP), then read lines until one
 * matches `receive` (a Perl regex on bytes, unanchored). A null receive (empty in the
 * config) means any line will do.
 *
 * Lines are matched with their trailing newline, as Perl's `<$sock>` returns them; a last
 * line without one counts when the server closes. Over UDP the end of a datagram also
 * ends a line (Perl waited for a newline that a datagram service rarely sends, so a
 * reply such as "OK" without one timed out). At most 1 MiB is read.
 */
import { createConnection } from 'node:net';
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { show } from './line-conn';
import type { Check, Receive, SimpleTcpSpec } from './types';

/** Read at most this much before giving up on a match. */
export const MAX_READ = 1024 * 1024;

type Result = { up: boolean; reason: string };

/** Splits bytes into lines and tests each one against `receive`. */
function lineMatcher(receive: Receive) {
  let partial = '';
  let total = 0;
  let lines = 0;
  let first: string | null = null;
  const test = (line: string): Result | null => {
    lines++;
    first ??= line;
    const shown = show(line.replace(/\r?\n$/, ''));
    if (receive === null) return { up: true, reason: `simpletcp: got a line: ${shown}` };
    if (receive.test(line)) return { up: true, reason: `simpletcp: line ${lines} matched: ${shown}` };
    return null;
  };
  return {
    /** Feed bytes; a result when a line matched or the read cap was reached. */
    feed(chunk: Buffer, endsLine: boolean): Result | null {
      const room = MAX_READ - total;
      const take = chunk.length > room ? chunk.subarray(0, room) : chunk;
      total += take.length;
      partial += take.toString('latin1');
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const r = test(partial.slice(0, nl + 1));
        partial = partial.slice(nl + 1);
        if (r) return r;
      }
      if (endsLine && partial !== '') {
        const r = test(partial);
        partial = '';
        if (r) return r;
      }
      if (total >= MAX_READ)
        return { up: false, reason: `simpletcp: ${this.summary()} in the first ${MAX_READ} bytes` };
      return null;
    },
    /** The server closed: the last line without newline counts. */
    end(): Result {
      if (partial !== '') {
        const r = test(partial);
        partial = '';
        if (r) return r;
      }
      return { up: false, reason: `simpletcp: ${this.summary()} before the server closed` };
    },
    summary(): string {
      if (lines === 0) return 'no line received';
      return `no line matched receive (${lines} line${lines === 1 ? '' : 's'}, first ${show(first!.replace(/\r?\n$/, ''))})`;
    },
  };
}

export const checkSimpleTcp: Check<SimpleTcpSpec> = (spec, ctx) =>
  spec.udp ? udp(spec, ctx.signal) : tcp(spec, ctx.signal);

function tcp(spec: SimpleTcpSpec, signal: AbortSignal): Promise<Result> {
  return new Promise((resolve) => {
    let connected = false;
    const lines = lineMatcher(spec.receive);
    const sock = createConnection({ host: spec.host, port: spec.port });
    const done = (r: Result) => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(r);
    };
    const onAbort = () => {
      const why = (signal.reason as Error | undefined)?.message ?? 'aborted';
      done({ up: false, reason: connected ? `simpletcp: ${lines.summary()}; ${why}` : `connect: ${why}` });
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => {
      connected = true;
      // Perl: print $sock $request; shutdown($sock, SHUT_WR).
      sock.end(spec.send, 'utf8');
    });
    sock.on('data', (chunk: Buffer) => {
      const r = lines.feed(chunk, false);
      if (r) done(r);
    });
    sock.once('end', () => done(lines.end()));
    sock.once('error', (e: NodeJS.ErrnoException) =>
      done({
        up: false,
        reason: connected ? `simpletcp: ${lines.summary()}; ${e.code ?? e.message}` : `connect ${e.code ?? e.message}`,
      }),
    );
  });
}

function udp(spec: SimpleTcpSpec, signal: AbortSignal): Promise<Result> {
  return new Promise((resolve) => {
    const lines = lineMatcher(spec.receive);
    const sock = createSocket(isIPv6(spec.host) ? 'udp6' : 'udp4');
    let closed = false;
    const done = (r: Result) => {
      signal.removeEventListener('abort', onAbort);
      if (!closed) {
        closed = true;
        sock.close();
      }
      resolve(r);
    };
    const onAbort = () => {
      const why = (signal.reason as Error | undefined)?.message ?? 'aborted';
      done({ up: false, reason: `simpletcp (udp): ${lines.summary()}; ${why}` });
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    // A connected datagram socket, as Perl's ld_open_socket: replies come only from the
    // real server, and an ICMP port-unreachable surfaces as ECONNREFUSED.
    sock.once('error', (e: NodeJS.ErrnoException) =>
      done({ up: false, reason: `simpletcp (udp): ${lines.summary()}; ${e.code ?? e.message}` }),
    );
    sock.on('message', (msg: Buffer) => {
      const r = lines.feed(msg, true);
      if (r) done(r);
    });
    sock.connect(spec.port, spec.host, () => {
      if (closed) return;
      // Perl's print of an empty request writes nothing.
      if (spec.send !== '') sock.send(Buffer.from(spec.send, 'utf8'));
    });
  });
}
