/**
 * Which log lines `ldirectord logs` shows: the instance's own (unless `--all`), `--virtual V`,
 * `--real R` and `--since T`, all of which must hold. Pure.
 *
 * A line is about a virtual or a real when its message is one of the catalogue's events
 * (line.ts) and names it; for a gate/ipip real logged as `<rip:vport> mapped from
 * <rip:rport>`, either address counts. A line without a readable stamp never passes
 * `--since`; a line that is no event never passes `--virtual` or `--real`.
 */
import { parseReal, parseVirtual, realMatches, virtualMatches, type RealRef, type VirtualRef } from './address';
import type { LogLine } from './line';
import { parseSince } from './since';

export interface LineFilter {
  /** Only lines of this instance (the pid file's cfgname), unless null (`--all`). */
  cfgname: string | null;
  virtual: VirtualRef | null;
  real: RealRef | null;
  /** ms since the epoch; lines stamped earlier are dropped. */
  since: number | null;
}

export const NO_FILTER: LineFilter = { cfgname: null, virtual: null, real: null, since: null };

/** The filter from the command's options, or the reason an option cannot be read. */
export function buildFilter(
  opts: { virtual: string | null; real: string | null; since: string | null; cfgname?: string | null },
  now: Date,
): LineFilter | { error: string } {
  const f: LineFilter = { ...NO_FILTER, cfgname: opts.cfgname ?? null };
  if (opts.virtual !== null) {
    f.virtual = parseVirtual(opts.virtual.trim(), true);
    if (!f.virtual)
      return {
        error: `--virtual ${opts.virtual}: expected 10.0.0.1:80, tcp:10.0.0.1:80, [2001:db8::1]:80, a fwmark (5, fwm:5) or an address`,
      };
  }
  if (opts.real !== null) {
    f.real = parseReal(opts.real.trim(), true);
    if (!f.real)
      return {
        error: `--real ${opts.real}: expected an address (10.0.1.1, 2001:db8::2) with an optional port (10.0.1.1:8080, [2001:db8::2]:80)`,
      };
  }
  if (opts.since !== null) {
    f.since = parseSince(opts.since, now);
    if (f.since === null)
      return {
        error: `--since ${opts.since}: expected a duration (10m, 2h, 1d), a time of day (HH:MM) or an ISO time (2026-11-21T10:50)`,
      };
  }
  return f;
}

export function lineMatches(f: LineFilter, line: LogLine): boolean {
  // A log file shared by several instances: each line says whose it is (a line without the
  // prefix, a supervisor's stdout, belongs to whoever reads it).
  if (f.cfgname !== null && line.cfgname !== null && line.cfgname !== f.cfgname) return false;
  if (f.since !== null && (line.time === null || line.time < f.since)) return false;
  if (f.virtual === null && f.real === null) return true;
  const ev = line.event;
  if (!ev) return false;
  if (f.virtual !== null && !(ev.virtualRef && virtualMatches(f.virtual, ev.virtualRef))) return false;
  if (f.real !== null) {
    const refs = [ev.realRef, ev.mappedFromRef].filter((r): r is RealRef => !!r);
    if (!refs.some((r) => realMatches(f.real!, r))) return false;
  }
  return true;
}
