/**
 * service=sip negotiate check (Perl check_sip).
 *
 * Sends the OPTIONS request Perl builds, over UDP (TCP when the virtual's protocol is
 * tcp), to the check port:
 *
 *   OPTIONS sip:<login> SIP/2.0
 *   Via: SIP/2.0/UDP <local addr>:<local port>;branch=z9hG4bK<random>
 *   Max-Forwards: 70
 *   To: <sip:<login>>
 *   From: <sip:<login>>;tag=1928301774
 *   Call-ID: <16 random hex digits>
 *   CSeq: 63104 OPTIONS
 *   Contact: <sip:<login>>
 *   Accept: application/sdp
 *   Content-Length: 0
 *
 * Up when the first line of the first reply matches `^SIP/2.0 200 OK` (Perl's regex, so
 * the `.` matches any character). Anything else (a 404, a 100 Trying, a closed connection,
 * a socket error, no reply by the deadline) is down; the reason is the reply's first line
 * or what went wrong.
 *
 * Differences from Perl, on purpose:
 *   - the request and reply are not printed on stdout (Perl's leftover debug, W-18);
 *   - the Via branch is random per request (Perl always sent z9hG4bKhjhs8ass877, which
 *     RFC 3261 forbids: a server may answer a reused branch from its transaction cache);
 *   - over TCP the Via says SIP/2.0/TCP (Perl said UDP whatever the transport);
 *   - over UDP the request is retransmitted after 500 ms, 1 s, 2 s, 4 s, 4 s, … until
 *     the deadline (RFC 3261 timer E), so one lost datagram is not a failure.
 */
import { createSocket } from 'node:dgram';
import { createConnection, isIPv6, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Check, SipSpec } from './types';
import { abortText, endOnce } from './ending';

type Result = { up: boolean; reason: string };

const T1_MS = 500;
const T2_MS = 4000;

/** The OPTIONS request, as Perl's check_sip builds it (see the header comment). */
export function optionsRequest(
  user: string,
  transport: 'UDP' | 'TCP',
  localAddress: string,
  localPort: number,
): string {
  const via = isIPv6(localAddress) ? `[${localAddress}]` : localAddress;
  return (
    `OPTIONS sip:${user} SIP/2.0\r\n` +
    `Via: SIP/2.0/${transport} ${via}:${localPort};branch=z9hG4bK${randomBytes(8).toString('hex')}\r\n` +
    'Max-Forwards: 70\r\n' +
    `To: <sip:${user}>\r\n` +
    `From: <sip:${user}>;tag=1928301774\r\n` +
    `Call-ID: ${randomBytes(8).toString('hex')}\r\n` +
    'CSeq: 63104 OPTIONS\r\n' +
    `Contact: <sip:${user}>\r\n` +
    'Accept: application/sdp\r\n' +
    'Content-Length: 0\r\n\r\n'
  );
}

/** Judge the first line of the reply (Perl chomps "\n" then "\r"). */
function judge(firstLine: string): Result {
  const line = firstLine.replace(/\n$/, '').replace(/\r$/, '');
  if (line === '') return { up: false, reason: 'no status line in the SIP reply' };
  // Perl: m/^SIP\/2.0 200 OK/
  return { up: /^SIP\/2.0 200 OK/.test(line), reason: printable(line) };
}

/** A reply line as a short, printable reason. */
function printable(line: string): string {
  const s = line.replace(/[^\x20-\x7e]/g, '?');
  return s.length > 200 ? s.slice(0, 200) + '…' : s;
}

function toBytes(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

export const checkSip: Check<SipSpec> = (spec, ctx) => (spec.udp ? sipUdp(spec, ctx.signal) : sipTcp(spec, ctx.signal));

function sipUdp(spec: SipSpec, signal: AbortSignal): Promise<Result> {
  return new Promise((resolve) => {
    const sock = createSocket(isIPv6(spec.host) ? 'udp6' : 'udp4');
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const done = (up: boolean, reason: string) => end() && resolve({ up, reason });
    const end = endOnce(
      signal,
      () => {
        closed = true;
        if (timer) clearTimeout(timer);
        sock.close();
      },
      () => done(false, abortText(signal)),
    );
    sock.on('error', (e: NodeJS.ErrnoException) =>
      done(false, `${e.syscall ? e.syscall + ' ' : ''}${e.code ?? e.message}`),
    );
    sock.on('message', (msg: Buffer) => {
      const text = msg.toString('latin1');
      const nl = text.indexOf('\n');
      const r = judge(nl < 0 ? text : text.slice(0, nl));
      done(r.up, r.reason);
    });
    try {
      // Node calls the connect callback with the error on failure (its type says no argument).
      sock.connect(spec.port, spec.host, ((e?: NodeJS.ErrnoException) => {
        if (e) return done(false, `connect ${e.code ?? e.message}`);
        const local = sock.address();
        const request = toBytes(optionsRequest(spec.user, 'UDP', local.address, local.port));
        let wait = T1_MS;
        const send = () => {
          if (closed) return;
          sock.send(request, (err) => err && done(false, `send ${(err as NodeJS.ErrnoException).code ?? err.message}`));
          timer = setTimeout(send, wait);
          wait = Math.min(wait * 2, T2_MS);
        };
        send();
      }) as () => void);
    } catch (e) {
      // A bad port or address throws at once.
      done(false, `connect ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  });
}

function sipTcp(spec: SipSpec, signal: AbortSignal): Promise<Result> {
  return new Promise((resolve) => {
    let sock: Socket;
    try {
      sock = createConnection({ host: spec.host, port: spec.port });
    } catch (e) {
      // A bad port throws at once.
      return resolve({ up: false, reason: `connect ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    }
    let buf = '';
    let closed = false;
    const done = (up: boolean, reason: string) => {
      if (closed) return;
      closed = true;
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve({ up, reason });
    };
    const onAbort = () => done(false, (signal.reason as Error)?.message ?? 'aborted');
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (e: NodeJS.ErrnoException) =>
      done(false, `${e.syscall ? e.syscall + ' ' : ''}${e.code ?? e.message}`),
    );
    sock.on('connect', () => {
      sock.write(toBytes(optionsRequest(spec.user, 'TCP', sock.localAddress ?? '', sock.localPort ?? 0)));
    });
    sock.on('data', (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        const r = judge(buf.slice(0, nl));
        done(r.up, r.reason);
      } else if (buf.length > 8192) {
        done(false, 'SIP status line longer than 8 KiB');
      }
    });
    // Perl's readline returns a last line without its newline at end of file.
    sock.on('end', () => {
      if (buf) {
        const r = judge(buf);
        done(r.up, r.reason);
      } else done(false, 'connection closed before a SIP reply');
    });
  });
}
