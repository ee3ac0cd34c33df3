/**
 * Virtual services and real servers as the log lines write them, and as `logs --virtual`
 * and `--real` accept them. Pure.
 *
 * A log line names a virtual in one of two forms (spec §8.2):
 *   <V>    `10.0.0.1:80`, `[2001:db8::1]:80`, or the bare fwmark `5`
 *   <vid>  `tcp:10.0.0.1:80`, `udp:[2001:db8::1]:53`, `fwm:5`, `fwm6:5`
 * <V> carries no protocol (and no address family for a fwmark), so an unknown part
 * matches anything. A real is `10.0.1.1:8080` or `[2001:db8::2]:80` (`:0` for fwmark reals).
 */
import { isIPv4, isIPv6 } from 'node:net';

export type VirtualRef =
  | { kind: 'ip'; proto: 'tcp' | 'udp' | null; host: string; port: number | null }
  | { kind: 'fwm'; family: 4 | 6 | null; mark: number };

export interface RealRef {
  host: string;
  port: number | null;
}

/** The canonical text of an IP address (IPv6 fully expanded, lower case), or null. */
export function canonicalHost(text: string): string | null {
  if (isIPv4(text)) return text;
  if (!isIPv6(text)) return null;
  let s = text.toLowerCase();
  // An IPv4 tail (::ffff:10.0.0.1) becomes two hextets.
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = v4[2]!.split('.').map(Number);
    s = `${v4[1]}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join(':');
}

/** `host:port`, `[v6]:port`, or (when portOptional) a bare `host`, `[v6]` or v6 address. */
function hostPort(text: string, portOptional: boolean): { host: string; port: number | null } | null {
  let host: string;
  let port: string | null;
  const br = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (br) {
    host = br[1]!;
    port = br[2] ?? null;
  } else if (portOptional && isIPv6(text)) {
    // A bare IPv6 address: its last group is not a port.
    host = text;
    port = null;
  } else {
    // `host:port`; the original writes an IPv6 real without brackets in a few messages.
    const m = /^(.+):(\d+)$/.exec(text);
    host = m ? m[1]! : text;
    port = m ? m[2]! : null;
  }
  if (port === null && !portOptional) return null;
  const canon = canonicalHost(host);
  if (canon === null) return null;
  const n = port === null ? null : Number(port);
  if (n !== null && n > 65535) return null;
  return { host: canon, port: n };
}

/**
 * A virtual as a log line or the user writes it. With `loose` (user input), the port may be
 * left out to mean every port of that address.
 */
export function parseVirtual(text: string, loose = false): VirtualRef | null {
  let m = /^(fwm6?):(\d+)$/.exec(text);
  if (m) return { kind: 'fwm', family: m[1] === 'fwm6' ? 6 : 4, mark: Number(m[2]) };
  if (/^\d+$/.test(text)) return { kind: 'fwm', family: null, mark: Number(text) };
  m = /^(tcp|udp):(.+)$/.exec(text);
  const proto = m ? (m[1] as 'tcp' | 'udp') : null;
  const hp = hostPort(m ? m[2]! : text, loose);
  return hp ? { kind: 'ip', proto, ...hp } : null;
}

/** A real as a log line or the user writes it; the port is optional for user input. */
export function parseReal(text: string, loose = false): RealRef | null {
  return hostPort(text, loose);
}

/** Does the virtual named in a log line (`line`) fall under the user's `want`? */
export function virtualMatches(want: VirtualRef, line: VirtualRef): boolean {
  if (want.kind === 'fwm' || line.kind === 'fwm') {
    if (want.kind !== 'fwm' || line.kind !== 'fwm') return false;
    return want.mark === line.mark && (want.family === null || line.family === null || want.family === line.family);
  }
  return (
    want.host === line.host &&
    (want.port === null || want.port === line.port) &&
    (want.proto === null || line.proto === null || want.proto === line.proto)
  );
}

export function realMatches(want: RealRef, line: RealRef): boolean {
  return want.host === line.host && (want.port === null || want.port === line.port);
}
