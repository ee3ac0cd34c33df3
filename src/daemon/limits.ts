/**
 * How many checks may be in flight at once: most of the open-file limit (each check holds
 * a socket or a child's pipes), leaving room for logs, ipvsadm and the status socket.
 */
import { readFileSync } from 'node:fs';

export function openFileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
  } catch {
    // not Linux
  }
  return 1024;
}

export function maxChecksInFlight(limit = openFileLimit()): number {
  return Math.max(16, Math.min(20000, Math.floor((limit - 128) * 0.8)));
}
