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
import { createConnection, isIPv6 } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Budget, aborted, down, failed, inert, session, up, type Verdict } from './kernel';
import { datagramExchange } from './datagram';
import { defineKind, negotiateBase } from './kind';

export interface SipSpec {
  kind: 'sip';
  host: string;
  port: number;
  udp: boolean;
  /** The `login` value, used as the OPTIONS request URI user part. */
  user: string;
  timeoutMs: number;
}

const T1_MS = 500;
const T2_MS = 4000;
/** The longest status line accepted over TCP. */
const MAX_LINE = 8192;

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
function judge(firstLine: string): Verdict {
  const line = firstLine.replace(/\n$/, '').replace(/\r$/, '');
  if (line === '') return down('protocol', 'no status line in the SIP reply');
  // Perl: m/^SIP\/2.0 200 OK/
  return /^SIP\/2.0 200 OK/.test(line) ? up(inert(line, 200)) : down('status', inert(line, 200));
}

export const sip = defineKind<SipSpec>({
  services: { sip: 5060 },
  spec: (t) => ({
    kind: 'sip',
    ...negotiateBase(t),
    udp: t.protocol === 'udp',
    user: t.login,
  }),
  run: (spec, { signal }) => (spec.udp ? sipUdp(spec, signal) : sipTcp(spec, signal)),
});

function sipUdp(spec: SipSpec, signal: AbortSignal): Promise<Verdict> {
  return datagramExchange<Verdict>({
    host: spec.host,
    port: spec.port,
    signal,
    retransmit: { firstMs: T1_MS, maxMs: T2_MS },
    request: (local) => Buffer.from(optionsRequest(spec.user, 'UDP', local.address, local.port), 'utf8'),
    accept: (msg) => {
      const text = msg.toString('latin1');
      const nl = text.indexOf('\n');
      return judge(nl < 0 ? text : text.slice(0, nl));
    },
    failed: (e) => failed(e),
    aborted: () => aborted(signal),
  });
}

function sipTcp(spec: SipSpec, signal: AbortSignal): Promise<Verdict> {
  return session(
    signal,
    (settle) => {
      const sock = createConnection({ host: spec.host, port: spec.port });
      const line = new Budget(MAX_LINE);
      sock.on('error', (e) => settle(failed(e)));
      sock.on('connect', () => {
        sock.write(Buffer.from(optionsRequest(spec.user, 'TCP', sock.localAddress ?? '', sock.localPort ?? 0), 'utf8'));
      });
      sock.on('data', (chunk: Buffer) => {
        const nl = chunk.indexOf(0x0a);
        if (nl >= 0) {
          line.add(chunk.subarray(0, nl));
          return settle(judge(line.bytes().toString('latin1')));
        }
        if (!line.add(chunk)) settle(down('protocol', 'SIP status line longer than 8 KiB'));
      });
      // Perl's readline returns a last line without its newline at end of file.
      sock.on('end', () =>
        settle(
          line.size ? judge(line.bytes().toString('latin1')) : down('closed', 'connection closed before a SIP reply'),
        ),
      );
      return () => sock.destroy();
    },
    () => aborted(signal),
  );
}
