/**
 * service=dns negotiate check (Perl check_dns, which uses Net::DNS::Resolver).
 *
 * The real server is asked as the nameserver, on the check port, over TCP when the
 * virtual's protocol is tcp and over UDP otherwise (a truncated UDP answer is asked again
 * over TCP, as Net::DNS does). The name is looked up as Net::DNS `search()` does: an IP
 * address becomes a PTR query of its reverse name, anything else an A query, and a name
 * with fewer dots than `ndots` is tried with the resolver's search list (resolv.conf).
 *
 * Up when some answer record is an A record whose address matches `receive`, or a PTR
 * record whose name matches it. An empty receive is always down, as in Perl.
 *
 * Reasons: `Success` and `Response mismatch` as in Perl; a name with no answer gives
 * `No answer received (<rcode>)`, a socket error its code, the deadline the runner's
 * reason. (Perl logs `Connection timed out` for all three.)
 */
import { createConnection, isIPv4, isIPv6 } from 'node:net';
import { randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type * as DP from 'dns-packet';
import { aborted, down, failed, session, up, type Verdict } from './kernel';
import { datagramExchange } from './datagram';
import { defineKind, negotiateBase, type Receive } from './kind';
import { ipv6Groups } from './ipv6';
import { toByteString } from './receive';

export interface DnsSpec {
  kind: 'dns';
  host: string;
  port: number;
  tcp: boolean;
  /** Name to look up (an IP address means a PTR query). */
  query: string;
  /** Must match an A address or PTR name; null (empty receive) is always down, as in Perl. */
  receive: Receive | null;
  timeoutMs: number;
}

/** First UDP retransmission after this long, then doubling (Net::DNS waits 5 s). */
const UDP_RETRANSMIT_MS = 1000;

// dns-packet is loaded with the first config that checks DNS, not by every command that
// reads a config (`status` runs every monitor interval of the OCF agent).
const load = () => import('dns-packet');
let dnsPacket: typeof DP | undefined;
/** dns-packet, loaded by preload or the first run before any exchange. */
const lib = (): typeof DP => dnsPacket!;

export const dns = defineKind<DnsSpec>({
  services: { dns: 53 },
  usesReceive: true,
  spec: (t) => ({
    kind: 'dns',
    ...negotiateBase(t),
    tcp: t.protocol === 'tcp',
    query: t.request.replace(/^\//, ''),
    receive: t.receive,
  }),
  preload: async () => (dnsPacket ??= await load()),
  async run(spec, { signal }) {
    try {
      dnsPacket ??= await load();
      const conf = await resolverSearchConfig();
      return await lookup(spec, searchNames(spec.query, conf.searchlist, conf.ndots), signal);
    } catch (e) {
      return signal.aborted ? aborted(signal) : failed(e);
    }
  },
});

async function lookup(spec: DnsSpec, names: string[], signal: AbortSignal): Promise<Verdict> {
  let failure = down('protocol', 'No answer received');
  for (const name of names) {
    const question = questionFor(name);
    let reply: DP.DecodedPacket;
    try {
      reply = await exchange(spec, question, signal);
    } catch (e) {
      // Net::DNS: a failed send moves on to the next name of the search list.
      if (signal.aborted) return aborted(signal);
      failure = failed(e);
      continue;
    }
    const answers = reply.answers ?? [];
    if (answers.length === 0) {
      const rcode = (reply as { rcode?: string }).rcode ?? 'NOERROR';
      failure = down('status', `No answer received (${rcode} for ${question.type} ${question.name})`);
      continue;
    }
    // Net::DNS search() returns the first reply that has answers; only that one is judged.
    return judge(answers, spec.receive);
  }
  return failure;
}

function judge(answers: DP.Answer[], receive: Receive | null): Verdict {
  if (receive === null)
    return down('mismatch', 'Response mismatch (receive is empty: a DNS check is never up without one, as in Perl)');
  for (const rr of answers) {
    if ((rr.type === 'A' || rr.type === 'PTR') && typeof rr.data === 'string' && receive.test(toByteString(rr.data))) {
      return up('Success');
    }
  }
  return down('mismatch', 'Response mismatch');
}

// ---------------------------------------------------------------------------------------
// The question: Net::DNS::Question's IP-address-to-PTR rule and Resolver::search()'s list.

export interface DnsQuestion {
  type: 'A' | 'PTR';
  name: string;
}

/** The question Net::DNS::Packet->new(name) builds: PTR of the reverse name for an IP. */
export function questionFor(name: string): DnsQuestion {
  if (/:|\d$/.test(name)) {
    const reverse = reverseName(name);
    if (reverse !== null) return { type: 'PTR', name: reverse };
  }
  return { type: 'A', name: name.replace(/\.$/, '') || '.' };
}

/**
 * Net::DNS::Question::_dns_addr: map an IP address (IPv4, possibly partial, or IPv6, with
 * an optional /prefix) into the in-addr.arpa or ip6.arpa space; null when it is not one.
 * Returned without the trailing dot.
 */
export function reverseName(input: string): string | null {
  const s = input.replace(/%.+$/, '');
  if (!/^[a-fA-F0-9:./]+$/.test(s)) return null;
  const [address, prefix] = s.split('/');
  let pfxlen = prefix ? Number(prefix) : 0;
  if (/^\d*[.\d]*\d(\/\d+)?$/.test(s)) {
    const parse = address.split('.');
    if (!pfxlen) pfxlen = parse.length << 3;
    const last = pfxlen > 24 ? 3 : (pfxlen - 1) >> 3;
    const padded = [...parse, '0', '0', '0'];
    const labels: string[] = [];
    for (let i = 0; i <= last; i++) labels.push(padded[i] ?? '');
    return `${labels.reverse().join('.')}.in-addr.arpa`;
  }
  const mapped = /^[:0]*:0*:[fF]{4}:([^:]+)$/.exec(s);
  if (mapped && isIPv4(mapped[1])) return reverseName(mapped[1]);
  if (!isIPv6(address)) return null;
  const nibbles = expandIPv6(address);
  if (!pfxlen) pfxlen = 128;
  const len = pfxlen > 124 ? 32 : (pfxlen + 3) >> 2;
  return `${nibbles.slice(0, len).split('').reverse().join('.')}.ip6.arpa`;
}

/** The 32 hex digits of an IPv6 address (which may end in a dotted IPv4 part). */
function expandIPv6(address: string): string {
  return ipv6Groups(address)
    .map((g) => g.toString(16).padStart(4, '0'))
    .join('');
}

/**
 * The names Net::DNS::Resolver::search() asks, in order: a name with fewer than `ndots`
 * dots is tried with each search-list domain (and alone only when it has a dot); an IP
 * address or a name ending in `.` or `.<digits>` only as it is.
 */
export function searchNames(query: string, searchlist: string[], ndots: number): string[] {
  const name = query || '.';
  const dots = name.split('.').length - 1;
  if (/:|\.\d*$/.test(name)) return [name];
  const suffixes = dots < ndots ? searchlist : [];
  const list: (string | null)[] = dots ? [null, ...suffixes] : [...suffixes];
  if (list.length === 0) return [name];
  return list.map((s) => (s ? `${name}.${s}` : name));
}

/**
 * The search list and ndots option as Net::DNS::Resolver reads them: the host name's
 * domain, then /etc/resolv.conf (`domain`, `search`, `options ndots:N`), then the
 * LOCALDOMAIN, RES_SEARCHLIST and RES_OPTIONS environment variables.
 */
export async function resolverSearchConfig(
  resolvConf = '/etc/resolv.conf',
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ searchlist: string[]; ndots: number }> {
  const dot = hostname().indexOf('.');
  let searchlist = dot > 0 ? [hostname().slice(dot + 1)] : [];
  let ndots = 1;
  const option = (o: string) => {
    const [key, value] = o.split(':');
    if (key.toLowerCase() === 'ndots' && value !== undefined && /^\d+$/.test(value)) ndots = Number(value);
  };
  let text = '';
  try {
    text = await readFile(resolvConf, 'latin1');
  } catch {
    // no resolv.conf: the defaults stand
  }
  const search: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[;#].*$/, '');
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (/^domain/.test(line) && words[1]) searchlist = [words[1]];
    else if (/^search/.test(line)) search.push(...words.slice(1));
    else if (/^option/.test(line)) words.slice(1).forEach(option);
  }
  if (search.length) searchlist = search;
  if (env.LOCALDOMAIN !== undefined) searchlist = env.LOCALDOMAIN.split(/\s+/).filter(Boolean);
  if (env.RES_SEARCHLIST !== undefined) searchlist = env.RES_SEARCHLIST.split(/\s+/).filter(Boolean);
  (env.RES_OPTIONS ?? '').split(/\s+/).filter(Boolean).forEach(option);
  return { searchlist: searchlist.map((d) => d.replace(/\.$/, '')), ndots };
}

// ---------------------------------------------------------------------------------------
// The exchange.

function query(question: DnsQuestion): DP.Packet {
  return {
    type: 'query',
    id: randomInt(0, 0x10000),
    flags: lib().RECURSION_DESIRED,
    questions: [{ type: question.type, class: 'IN', name: question.name }],
  };
}

async function exchange(spec: DnsSpec, question: DnsQuestion, signal: AbortSignal): Promise<DP.DecodedPacket> {
  const q = query(question);
  if (spec.tcp) return tcpExchange(spec, q, signal);
  const reply = await udpExchange(spec, q, signal);
  // A truncated answer is asked again over TCP, as Net::DNS send() does.
  return reply.flag_tc ? tcpExchange(spec, q, signal) : reply;
}

function isReplyTo(reply: DP.DecodedPacket, q: DP.Packet): boolean {
  return reply.type === 'response' && reply.id === q.id;
}

/** A socket error, or a reply to our query. */
type Exchanged = { reply: DP.DecodedPacket } | { error: unknown };

async function settled(p: Promise<Exchanged>): Promise<DP.DecodedPacket> {
  const r = await p;
  if ('error' in r) throw r.error;
  return r.reply;
}

function udpExchange(spec: DnsSpec, q: DP.Packet, signal: AbortSignal): Promise<DP.DecodedPacket> {
  const data = lib().encode(q);
  return settled(
    datagramExchange<Exchanged>({
      host: spec.host,
      port: spec.port,
      signal,
      retransmit: { firstMs: UDP_RETRANSMIT_MS, maxMs: Infinity },
      request: () => data,
      accept: (msg) => {
        let reply: DP.DecodedPacket;
        try {
          reply = lib().decode(msg);
        } catch {
          return undefined; // not a DNS message: keep waiting, as Net::DNS does
        }
        return isReplyTo(reply, q) ? { reply } : undefined;
      },
      failed: (error) => ({ error }),
      aborted: () => ({ error: signal.reason }),
    }),
  );
}

/** The most a TCP answer may take: a DNS message is at most 64 KiB. */
const TCP_MAX = 2 + 65535;

function tcpExchange(spec: DnsSpec, q: DP.Packet, signal: AbortSignal): Promise<DP.DecodedPacket> {
  return settled(
    session<Exchanged>(
      signal,
      (settle) => {
        const sock = createConnection({ host: spec.host, port: spec.port });
        let buf = Buffer.alloc(0);
        sock.on('error', (error) => settle({ error }));
        sock.on('connect', () => sock.write(lib().streamEncode(q)));
        sock.on('data', (chunk: Buffer) => {
          buf = Buffer.concat([buf, chunk]);
          while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            const len = buf.readUInt16BE(0);
            const msg = buf.subarray(2, 2 + len);
            buf = buf.subarray(2 + len);
            let reply: DP.DecodedPacket;
            try {
              reply = lib().decode(msg);
            } catch {
              return settle({ error: new Error('malformed DNS reply over TCP') });
            }
            if (isReplyTo(reply, q)) return settle({ reply });
          }
          // Replies to other queries are skipped; more than one message's worth waiting is not DNS.
          if (buf.length > TCP_MAX) settle({ error: new Error('DNS reply over TCP longer than 64 KiB') });
        });
        sock.on('end', () => settle({ error: new Error('connection closed before a DNS reply') }));
        return () => sock.destroy();
      },
      () => ({ error: signal.reason }),
      (error) => ({ error }),
    ),
  );
}
