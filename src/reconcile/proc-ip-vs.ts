/**
 * The kernel's own listing of the IPVS table, `/proc/net/ip_vs`, as a cheap "has anything
 * changed?" for the periodic resync (issue 19): reading it costs a read(2), where
 * `ipvsadm -S -n` costs a fork and an exec (12-17 % of the daemon's CPU under emulation).
 *
 * It shows every service (protocol, address, port, scheduler, persistence and netmask) and
 * every destination (address, port, forwarding, weight), with two connection counters per
 * destination that change with traffic and are dropped here. It does not show what only
 * ipvsadm shows (scheduler flags, one-packet scheduling, thresholds): a hand edit of those
 * alone is seen at the next full read, which the caller forces every FULL_READ_EVERY_MS.
 * Per network namespace, like ipvsadm itself.
 */
import { openSync, readSync, closeSync, constants } from 'node:fs';

export const PROC_IP_VS = '/proc/net/ip_vs';
/** The most read from the listing: far more than any table the daemon manages. */
const MAX_BYTES = 64 * 1024 * 1024;
/** Even when /proc says nothing changed, a full ipvsadm read this often. */
export const FULL_READ_EVERY_MS = 60_000;

/**
 * The listing without the connection counters, or null when it cannot be read (no IPVS, a
 * kernel without the file, LDIRECTORD_PROC_IP_VS=0).
 */
export function ipvsFingerprint(path = PROC_IP_VS, env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.LDIRECTORD_PROC_IP_VS === '0') return null;
  const text = readListing(path);
  return text === null ? null : withoutCounters(text);
}

/** The listing as it is, bounded; null when it cannot be read. */
export function readListing(path = PROC_IP_VS): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    // A /proc file reports size 0: read until the end, bounded.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(64 * 1024);
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > MAX_BYTES) return null;
    }
    return Buffer.concat(chunks).toString('latin1');
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Active connections per destination now (activeConnections below), or null when unreadable. */
export function connectionsNow(path = PROC_IP_VS): Map<string, number> | null {
  const listing = readListing(path);
  return listing === null ? null : activeConnections(listing);
}

/**
 * Active connections per destination (a drain waits for them to end), keyed
 * `<serviceKey>|<destKey>` as table.ts writes them: `tcp:10.0.0.1:80|10.9.1.1:8080`.
 * The kernel writes IPv4 addresses as 8 hex digits, IPv6 ones in full between brackets, a
 * firewall mark as 8 hex digits, every port as 4.
 */
export function activeConnections(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let svc: string | null = null;
  for (const line of text.split('\n')) {
    const s = /^(TCP|UDP|SCTP|FWM) +(\S+)/.exec(line);
    if (s) {
      if (s[1] === 'FWM') svc = /^[0-9A-F]{8}$/i.test(s[2]!) ? `fwm:${parseInt(s[2]!, 16)}` : null;
      else {
        const a = procAddress(s[2]!);
        svc = a === null ? null : `${s[1]!.toLowerCase()}:${a}`;
      }
      continue;
    }
    const d = /^ +-> +(\S+) +\S+ +\d+ +(\d+)/.exec(line);
    const dest = d ? procAddress(d[1]!) : null;
    if (svc === null || dest === null) continue;
    // A firewall-mark line does not say its family; its destinations do (table.ts: fwm6:N).
    const key = svc.startsWith('fwm:') && dest.startsWith('[') ? `fwm6:${svc.slice(4)}` : svc;
    out.set(`${key}|${dest}`, Number(d![2]));
  }
  return out;
}

/** `0A000001:0050` → `10.0.0.1:80`; `[2001:0db8:…:0001]:0050` → `[2001:db8::1]:80`. */
function procAddress(text: string): string | null {
  const v4 = /^([0-9A-F]{8}):([0-9A-F]{4})$/i.exec(text);
  if (v4) {
    const n = parseInt(v4[1]!, 16);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}:${parseInt(v4[2]!, 16)}`;
  }
  const v6 = /^\[([0-9a-f:]{2,39})\]:([0-9A-F]{4})$/i.exec(text);
  if (!v6) return null;
  try {
    // The URL parser writes an IPv6 address the canonical (RFC 5952) way.
    return `${new URL(`http://[${v6[1]}]/`).hostname}:${parseInt(v6[2]!, 16)}`;
  } catch {
    return null;
  }
}

/** `  -> 0A090101:1F90      Masq    1      0          0` → `  -> 0A090101:1F90 Masq 1`. */
export function withoutCounters(text: string): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('  -> ') && !line.startsWith('  -> RemoteAddress')) {
      const f = line.trim().split(/\s+/);
      out.push('  ' + f.slice(0, 4).join(' '));
    } else out.push(line.trimEnd());
  }
  return out.join('\n');
}
