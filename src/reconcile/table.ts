/**
 * The IPVS table as values: services keyed like Perl's virtual id (`tcp:10.0.0.1:80`,
 * `fwm:5`, `fwm6:5`), destinations keyed `ip:port` as ipvsadm prints them
 * (`10.0.0.2:80`, `[2001:db8::2]:80`), and the ipvsadm argv for every operation.
 */
import { hostPort, type Forward } from '../parser/model';

export type Proto = 'tcp' | 'udp' | 'fwm';

export interface ServiceAttrs {
  scheduler: string;
  /** Persistence timeout in seconds, or null when not persistent. */
  persistent: number | null;
  /** Persistence netmask (dotted quad, or IPv6 prefix length); only with persistent. */
  netmask: string | null;
  /** One-packet scheduling (UDP only). */
  ops: boolean;
  /** Scheduler flags (-b). */
  schedflags: string | null;
}

export interface ServiceId {
  /** `tcp:10.0.0.1:80`, `udp:[2001:db8::1]:53`, `fwm:5`, `fwm6:5`. */
  key: string;
  proto: Proto;
  /** `10.0.0.1:80`, `[2001:db8::1]:80`, or the fwmark number. */
  addr: string;
  ipv6: boolean;
}

export interface Dest {
  /** `ip:port` as ipvsadm prints it. */
  key: string;
  forward: Forward;
  weight: number;
  /** Upper connection threshold (-x); null when the kernel's value was not read. */
  upper: number | null;
  /** Lower connection threshold (-y); null when not read. */
  lower: number | null;
}

export interface Service extends ServiceId, ServiceAttrs {
  dests: Map<string, Dest>;
}

/** The kernel's table: every service, in the order ipvsadm listed them. */
export type Table = Map<string, Service>;

export function serviceKey(proto: Proto, addr: string, ipv6: boolean): string {
  return proto === 'fwm' ? `fwm${ipv6 ? '6' : ''}:${addr}` : `${proto}:${addr}`;
}

const PROTO_FLAG: Record<Proto, string> = { tcp: '-t', udp: '-u', fwm: '-f' };
const FORWARD_FLAG: Record<Forward, string> = { gate: '-g', masq: '-m', ipip: '-i' };

/** `-t 10.0.0.1:80`, `-f 5 -6`: how ipvsadm names a service. */
export function serviceArgs(s: ServiceId): string[] {
  const a = [PROTO_FLAG[s.proto], s.addr];
  if (s.proto === 'fwm' && s.ipv6) a.push('-6');
  return a;
}

export function serviceAttrArgs(a: ServiceAttrs, proto: Proto): string[] {
  const out = ['-s', a.scheduler];
  if (a.persistent !== null) {
    out.push('-p', String(a.persistent));
    if (a.netmask !== null) out.push('-M', a.netmask);
  }
  if (a.schedflags !== null) out.push('-b', a.schedflags);
  if (a.ops && proto === 'udp') out.push('-o');
  return out;
}

export function destArgs(d: Dest, withThresholds: boolean): string[] {
  const a = ['-r', d.key, FORWARD_FLAG[d.forward], '-w', String(d.weight)];
  if (withThresholds) a.push('-x', String(d.upper ?? 0), '-y', String(d.lower ?? 0));
  return a;
}

/** Compare service attributes the way the kernel stores them. */
export function sameAttrs(a: ServiceAttrs, b: ServiceAttrs, proto: Proto): boolean {
  const mask = (x: ServiceAttrs) => (x.persistent === null ? null : normalizeNetmask(x.netmask));
  return (
    a.scheduler === b.scheduler &&
    a.persistent === b.persistent &&
    mask(a) === mask(b) &&
    normalizeFlags(a.schedflags) === normalizeFlags(b.schedflags) &&
    (proto === 'udp' ? a.ops === b.ops : true)
  );
}

/** ipvsadm prints scheduler flags in its own order. */
function normalizeFlags(f: string | null): string {
  return (f ?? '').split(',').filter(Boolean).sort().join(',');
}

/** The kernel reports the default persistence netmask as nothing; treat them alike. */
function normalizeNetmask(m: string | null): string | null {
  if (m === null || m === '255.255.255.255' || m === '128') return null;
  return m;
}

/** `ip:port` with IPv6 in brackets. */
export function destKey(address: string, port: number): string {
  return hostPort(address, port);
}

export function cloneTable(t: Table): Table {
  const out: Table = new Map();
  for (const [k, s] of t) out.set(k, { ...s, dests: new Map([...s.dests].map(([dk, d]) => [dk, { ...d }])) });
  return out;
}
