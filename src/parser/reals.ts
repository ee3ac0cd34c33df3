/**
 * `real=` / `real6=` lines (Perl _ld_read_config_real_resolve and add_real_server):
 * `<addr>[->addr][:port] gate|masq|ipip [weight] ["request", "receive"] [l:N] [u:N]`,
 * resolved once the virtual block ends (the protocol is final then). Byte strings in.
 *
 * Deliberate fixes (README "Differences"):
 *   W-3  a per-real "request", "receive" whose request starts with '/' keeps its receive
 *        string and the rest of the line (Perl lost both);
 *   W-12 a range a->b counts addresses as numbers (Perl compared strings and added nothing
 *        when the digit count changed);
 * and a range is refused beyond MAX_RANGE addresses, decided before anything is built.
 */
import { P } from './values';
import type { Lookups } from './fallback';
import type { Forward, RealServer } from './model';

/** The most reals one `a->b` range may expand to. */
export const MAX_RANGE = 65536;
/** What ipvsadm takes for a weight (-w) and a connection threshold (-x, -y). */
const MAX_WEIGHT = 65535;
const MAX_THRESHOLD = 2_147_483_647;

const RE = {
  line: P`(\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-fa-f:]+\])(->(\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-fa-f:]+\]))?(:(\d+|[A-Za-z0-9-_]+))?\s+(.*)`,
  forward: P`(\w+)(.*)`,
  weight: P`\s+(\d+)(.*)`,
  requestReceive: P`\s+\"(.*)\"[, ]\s*\"(.*)\"(.*)`,
  lower: P`\s+l:(\d+)(.*)`,
  upper: P`\s+u:(\d+)(.*)`,
  nonBlank: P`\S`,
  leadingSlash: P`^\/`,
};

/** A real server as read, before its request and receive become UTF-8 strings. */
export type RawReal = { -readonly [K in keyof RealServer]: RealServer[K] };

/** One real= line, possibly a range, resolved in the virtual's family. */
export async function resolveReals(text: string, line: number, af: 4 | 6, lk: Lookups): Promise<RawReal[]> {
  const m = RE.line.exec(text);
  if (!m) lk.err(line, 'invalid address for real server (wrong format)');
  const [, ip1, , ip2, , portText = '0', flags = ''] = m;
  const first = await lk.host(ip1!, af);
  if (first === null) lk.err(line, `invalid address (${ip1}) for real server (could not resolve host)`);
  const port = lk.servicePort(portText, '');
  if (port === null) lk.err(line, `invalid port (${portText}) for real server (could not resolve port)`);
  if (ip2 === undefined) return [realServer(line, first, port, flags, lk)];
  const last = await lk.host(ip2, af);
  if (last === null) lk.err(line, `invalid address (${ip2}) for real server (could not resolve end host)`);
  if (af === 6) lk.err(line, 'Address range for IPv6 is not supported yet');
  const a = ipToInt(first);
  const b = ipToInt(last);
  if (a > b) {
    lk.err(line, `Invalid Range: ${first}-${last}: First value must be greater than or equal to the second value`);
  }
  if (b - a + 1 > MAX_RANGE) {
    lk.err(
      line,
      `Invalid Range: ${first}-${last}: ${b - a + 1} addresses, more than the ${MAX_RANGE} one range may hold`,
    );
  }
  // The flags are the same for every address: read them once (errors name the line).
  const model = realServer(line, first, port, flags, lk);
  const out: RawReal[] = [];
  for (let i = a; i <= b; i++) out.push({ ...model, address: intToIp(i) });
  return out;
}

/** Perl add_real_server: `gate|masq|ipip [weight] ["request", "receive"] [l:N] [u:N]`. */
function realServer(line: number, address: string, port: number, flags: string, lk: Lookups): RawReal {
  const fm = RE.forward.exec(flags);
  if (!fm || !['gate', 'masq', 'ipip'].includes(fm[1]!)) lk.err(line, 'forward method must be gate, masq or ipip');
  const r: RawReal = {
    line,
    address,
    port,
    forward: fm[1] as Forward,
    weight: 1,
    request: null,
    receive: null,
    lower: 0,
    upper: 0,
  };
  let rest = fm[2]!;
  let m: RegExpExecArray | null;
  if ((m = RE.weight.exec(rest))) {
    r.weight = Number(m[1]);
    if (r.weight > MAX_WEIGHT) lk.err(line, `invalid weight ${m[1]}: ipvsadm takes 0 to ${MAX_WEIGHT}`);
    rest = m[2]!;
  }
  if ((m = RE.requestReceive.exec(rest))) {
    // W-3 fixed: Perl's leading-'/' test reset $1..$3, losing the receive string and the
    // rest of the line whenever the request already began with '/'.
    r.request = RE.leadingSlash.test(m[1]!) ? m[1]! : '/' + m[1]!;
    r.receive = m[2]!;
    rest = m[3]!;
  }
  if ((m = RE.lower.exec(rest))) {
    r.lower = threshold(m[1]!, 'l', line, lk);
    rest = m[2]!;
  }
  if ((m = RE.upper.exec(rest))) {
    r.upper = threshold(m[1]!, 'u', line, lk);
    rest = m[2]!;
  }
  if (RE.nonBlank.test(rest)) lk.err(line, `Invalid real server line, around "${rest}"`);
  return r;
}

/** A connection threshold (`l:N`, `u:N`): ipvsadm takes 0 to INT_MAX. */
function threshold(text: string, which: 'l' | 'u', line: number, lk: Lookups): number {
  const n = Number(text);
  if (n > MAX_THRESHOLD) lk.err(line, `invalid threshold ${which}:${text}: ipvsadm takes 0 to ${MAX_THRESHOLD}`);
  return n;
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
