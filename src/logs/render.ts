/**
 * How `ldirectord logs` prints a line: as written (coloured on a terminal), or with
 * `--json` as one JSON object. Pure.
 *
 * Colours say what a line means for the service:
 *   red     a real taken out: Real server down, Deleted real server; and Added fallback
 *           server (no real is left up)
 *   yellow  a real at risk or drained: Soft failure, Quiescent / Readd Quiescent real server
 *   green   a real back in: Real server up, Added / Restored real server; and Deleted
 *           fallback server (a real is up again)
 * Everything else is printed as is.
 */
import type { LogEvent, LogLine } from './line';
import type { VirtualRef } from './address';

export type Tone = 'down' | 'warn' | 'up';

const TONES: Partial<Record<LogEvent, Tone>> = {
  'real-down': 'down',
  'real-deleted': 'down',
  'fallback-added': 'down',
  'real-soft-failure': 'warn',
  'real-check-failed': 'warn',
  'real-quiescent': 'warn',
  'real-readd-quiescent': 'warn',
  'real-up': 'up',
  'real-added': 'up',
  'real-restored': 'up',
  'fallback-deleted': 'up',
};

const SGR: Record<Tone, string> = { down: '\x1b[31m', warn: '\x1b[33m', up: '\x1b[32m' };
const RESET = '\x1b[0m';

export function toneOf(line: LogLine): Tone | null {
  return line.event ? (TONES[line.event.event] ?? null) : null;
}

/** Colour only on a terminal, never when NO_COLOR is set (whatever its value) or TERM=dumb. */
export function useColour(isTTY: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  return isTTY === true && env.NO_COLOR === undefined && env.TERM !== 'dumb';
}

export function renderText(line: LogLine, colour: boolean): string {
  const tone = colour ? toneOf(line) : null;
  return tone ? `${SGR[tone]}${line.raw}${RESET}` : line.raw;
}

/** Local time with its offset, `2026-11-21T10:50:06+01:00`, as the stamp was written. */
export function isoLocal(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(Math.abs(n)).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${p(Math.trunc(off / 60))}:${p(off % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${zone}`;
}

export interface JsonLine {
  time: string | null;
  cfgname: string | null;
  pid: number | null;
  message: string;
  event?: LogEvent;
  /**
   * The virtual in one spelling whatever the message wrote (`10.0.0.1:80`, `[2001:db8::1]:80`,
   * `fwm:5`); `protocol` when the message said it.
   */
  virtual?: string;
  protocol?: 'tcp' | 'udp';
  real?: string;
  mappedFrom?: string;
  weight?: number;
  reason?: string;
  /** The line goes on the message of the line before it (logged with a newline in it). */
  continued?: true;
}

export function toJson(line: LogLine): JsonLine {
  const out: JsonLine = {
    time: line.time === null ? null : isoLocal(line.time),
    cfgname: line.cfgname,
    pid: line.pid,
    message: line.message,
  };
  if (line.continuation) out.continued = true;
  const ev = line.event;
  if (ev) {
    out.event = ev.event;
    const ref = ev.virtualRef;
    out.virtual = ref ? canonicalVirtual(ref) : ev.virtual;
    if (ref?.kind === 'ip' && ref.proto) out.protocol = ref.proto;
    if (ev.real !== undefined) out.real = ev.real;
    if (ev.mappedFrom !== undefined) out.mappedFrom = ev.mappedFrom;
    if (ev.weight !== undefined) out.weight = ev.weight;
    if (ev.reason !== undefined) out.reason = ev.reason;
  }
  return out;
}

function canonicalVirtual(ref: VirtualRef): string {
  if (ref.kind === 'fwm') return `fwm:${ref.mark}`;
  const host = ref.host.includes(':') ? `[${ref.host}]` : ref.host;
  return ref.port === null ? host : `${host}:${ref.port}`;
}

export function renderJson(line: LogLine): string {
  return JSON.stringify(toJson(line));
}
