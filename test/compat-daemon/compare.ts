/**
 * What the side-by-side runs compare, and how a difference is shown.
 *
 * Tables: the fake ipvsadm's state (the `ipvsadm -S -n` rule text plus the thresholds),
 * normalised to one sorted line per service and per destination, e.g.
 *     -A -t 10.40.1.1:80 -s wrr
 *     -a -t 10.40.1.1:80 -r 127.40.1.2:8080 -m -w 1
 *     -a -t 10.40.1.1:80 -r 127.40.1.3:8080 -m -w 5 -x 100 -y 10
 * The parsing here is independent of src/ (it reads the state file's text), so a bug in the
 * daemon's own table code cannot hide itself.
 *
 * Logs: the lines operators grep for (spec §8.2), message text only:
 *     Added real server:, Deleted real server:, Quiescent real server:, Restored real server:,
 *     Added fallback server:, Deleted fallback server:
 * and the `Purged … server (start|stop):` lines of reloads and stops.
 *
 * W-2 (README: no start-up/reload flap): in the phases where Perl flaps (start and reload),
 * its lines are first reduced to their net effect per destination: an add undone by a
 * delete (or the reverse), a restore undone by a quiesce (or the reverse) cancel out, an
 * add left quiesced is the one placement at weight 0 that this daemon logs as
 * `Readd Quiescent real server: …`, and (readdquiescent=yes) a weight-0 placement restored
 * by the first check is an add. What is left must equal this daemon's lines.
 */
import type { FakeState } from './sides';

/** A table as sorted normalised lines. */
export type NTable = string[];

export function normalizeState(st: FakeState): NTable {
  const out: string[] = [];
  for (const raw of st.save.split('\n')) {
    const line = raw.trim().replace(/\s+/g, ' ');
    if (!line) continue;
    if (line.startsWith('-a ')) {
      const m = /^-a (-[tuf] \S+(?: -6)?) -r (\S+)/.exec(line);
      const th = m ? st.thresholds?.[`${svcKey(m[1]!)} ${m[2]}`] : undefined;
      out.push(th && (th[0] || th[1]) ? `${line} -x ${th[0]} -y ${th[1]}` : line);
    } else out.push(line);
  }
  return sortTable(out);
}

/** The fake's threshold key for a service (`tcp:10.0.0.1:80`, `fwm:5`, `fwm6:5`). */
function svcKey(svc: string): string {
  const [flag, addr, six] = svc.split(' ');
  const proto = flag === '-t' ? 'tcp' : flag === '-u' ? 'udp' : 'fwm';
  return proto === 'fwm' ? `fwm${six ? '6' : ''}:${addr}` : `${proto}:${addr}`;
}

/** Services first (by name), then each service's destinations (by address). */
export function sortTable(lines: string[]): NTable {
  const svcOf = (l: string) => /^-[aA] (-[tuf] \S+(?: -6)?)/.exec(l)?.[1] ?? l;
  return [...lines].sort((a, b) => {
    const sa = svcOf(a);
    const sb = svcOf(b);
    if (sa !== sb) return sa < sb ? -1 : 1;
    if (a.startsWith('-A') !== b.startsWith('-A')) return a.startsWith('-A') ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

export function formatTable(t: NTable): string {
  if (!t.length) return '      (empty)';
  return t.map((l) => (l.startsWith('-a') ? `        ${l}` : `      ${l}`)).join('\n');
}

/** The log line texts operators grep for (unanchored, as grep does). */
export const GREPPED = [
  'Added real server: ',
  'Deleted real server: ',
  'Quiescent real server: ',
  'Restored real server: ',
  'Added fallback server: ',
  'Deleted fallback server: ',
  'Purged real server (',
  'Purged virtual server (',
];

/** `[Sat Nov 21 10:50:06 2026|cfg|123] msg` → `msg`. */
export function messageOf(raw: string): string {
  return raw.replace(/^\[[^\]|]*\|[^\]|]*\|\d+\] /, '');
}

export function grepped(raw: string[]): string[] {
  return raw.map(messageOf).filter((m) => GREPPED.some((g) => m.includes(g)));
}

interface Event {
  kind: 'A' | 'D' | 'Q' | 'R' | 'RQ' | 'P';
  key: string;
  line: string;
}

const EVENT =
  /^(Added|Deleted|Quiescent|Restored|Readd Quiescent) (real|fallback) server: (\S+) (?:mapped from (\S+) )?\((\S+)\)/;

function eventOf(line: string): Event {
  const m = EVENT.exec(line);
  if (!m) return { kind: 'P', key: line, line };
  const kind = ({ Added: 'A', Deleted: 'D', Quiescent: 'Q', Restored: 'R', 'Readd Quiescent': 'RQ' } as const)[
    m[1] as 'Added'
  ];
  // One destination, whatever port the kernel shows it under (gate/ipip rewrite, W-6).
  const configured = m[4] ?? m[3]!;
  return { kind, key: `${m[2]} ${configured} (${m[5]})`, line };
}

const CANCEL = new Set(['A D', 'D A', 'R Q', 'Q R']);

/**
 * Perl's flap phases reduced to their net effect per destination (see the file comment).
 * The result is sorted, like every log comparison here (order across destinations is not
 * part of the contract).
 */
export function reduceFlap(lines: string[]): string[] {
  const byKey = new Map<string, Event[]>();
  const other: string[] = [];
  for (const l of lines) {
    const e = eventOf(l);
    if (e.kind === 'P') {
      other.push(l);
      continue;
    }
    const seq = byKey.get(e.key) ?? [];
    // Cancel against the last remaining event of this destination.
    const last = seq[seq.length - 1];
    if (last && CANCEL.has(`${last.kind} ${e.kind}`)) seq.pop();
    else seq.push(e);
    byKey.set(e.key, seq);
  }
  const out = [...other];
  for (const seq of byKey.values()) {
    for (let i = 0; i < seq.length; i++) {
      const e = seq[i]!;
      const next = seq[i + 1];
      if (e.kind === 'A' && next?.kind === 'Q') {
        out.push(next.line.replace(/^Quiescent /, 'Readd Quiescent '));
        i++;
      } else if (e.kind === 'RQ' && next?.kind === 'R') {
        // readdquiescent=yes: placed at weight 0, then restored by the first check: an add.
        out.push(next.line.replace(/^Restored /, 'Added '));
        i++;
      } else out.push(e.line);
    }
  }
  return out.sort();
}

/**
 * A documented deliberate difference, stated exactly: at the named checkpoints, Perl's
 * table must hold the `perl` lines (the original's bug, reproduced) and this daemon's
 * table holds the `ours` lines in their place; likewise for the grepped log lines.
 */
export interface Deliberate {
  /** Where it is documented: `W-6 (README, Differences from Perl ldirectord)`. */
  ref: string;
  at: string[];
  table?: { perl: string[]; ours: string[] };
  log?: { perl: string[]; ours: string[] };
}

/** Apply the replacements; a `perl` side that is not there is itself a finding. */
export function expectFromPerl(
  perl: string[],
  diffs: { ref: string; perl: string[]; ours: string[] }[],
  what: string,
): { expected: string[]; problems: string[] } {
  const expected = [...perl];
  const problems: string[] = [];
  for (const d of diffs) {
    for (const l of d.perl) {
      const i = expected.indexOf(l);
      if (i < 0)
        problems.push(
          `${d.ref}: Perl's ${what} was expected to show ${JSON.stringify(l)} (the documented original behaviour) but does not`,
        );
      else expected.splice(i, 1);
    }
    expected.push(...d.ours);
  }
  return { expected, problems };
}

/** Lines only in a, only in b (multisets). */
export function multisetDiff(a: string[], b: string[]): { onlyA: string[]; onlyB: string[] } {
  const rest = [...b];
  const onlyA: string[] = [];
  for (const x of a) {
    const i = rest.indexOf(x);
    if (i >= 0) rest.splice(i, 1);
    else onlyA.push(x);
  }
  return { onlyA, onlyB: rest };
}
