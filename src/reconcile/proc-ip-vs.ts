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
    return withoutCounters(Buffer.concat(chunks).toString('latin1'));
  } catch {
    return null;
  } finally {
    closeSync(fd);
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
