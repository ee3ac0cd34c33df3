/**
 * One line of the daemon's log, and the event its message reports. Pure.
 *
 * Line formats (src/daemon/logging.ts, spec §8.1):
 *   log file         `[Sat Nov 21 10:50:06 2026|ldirectord.cf|4893] <message>`
 *   supervised=yes   `[Sat Nov 21 10:50:06 2026] <message>`
 * The stamp is Perl's scalar localtime(): local time, day padded with a space (`Nov  1`).
 *
 * Events are the real-server and virtual-service messages of the catalogue (spec §8.2)
 * plus this daemon's `Real server up/down: <rip:rport> (<vid>): <reason>`.
 */
import { parsePerlLocaltime } from '../perl/localtime';
import { parseReal, parseVirtual, type RealRef, type VirtualRef } from './address';

export type LogEvent =
  | 'real-added'
  | 'real-restored'
  | 'real-deleted'
  | 'real-quiescent'
  | 'real-readd-quiescent'
  | 'real-soft-failure'
  | 'real-check-failed'
  | 'real-soft-reset'
  | 'real-up'
  | 'real-down'
  | 'real-purged'
  | 'fallback-added'
  | 'fallback-restored'
  | 'fallback-deleted'
  | 'fallback-quiescent'
  | 'virtual-added'
  | 'virtual-changed'
  | 'virtual-purged'
  | 'child-killed'
  | 'child-missing'
  | 'child-spawned';

/** What a message is about, as written in it. */
export interface MessageEvent {
  event: LogEvent;
  /** The virtual as written: `10.0.0.1:80`, `tcp:10.0.0.1:80`, `5`, `fwm:5`, `[2001:db8::1]:80`. */
  virtual: string;
  virtualRef: VirtualRef | null;
  /** The real (or fallback) server as written, the kernel's entry for a mapped gate/ipip real. */
  real?: string;
  realRef?: RealRef | null;
  /** `Quiescent real server: <rip:vport> mapped from <rip:rport>`: the configured real. */
  mappedFrom?: string;
  mappedFromRef?: RealRef | null;
  weight?: number;
  /** The check's reason on up/down/soft failure lines. */
  reason?: string;
}

export interface LogLine {
  /** The line as read, without its newline. */
  raw: string;
  /** The stamp as written, or null when the line has none. */
  stamp: string | null;
  /** Milliseconds since the epoch (the stamp read as local time), or null. */
  time: number | null;
  cfgname: string | null;
  pid: number | null;
  /** The message after the prefix; the whole line when there is no prefix. */
  message: string;
  event: MessageEvent | null;
  /**
   * A line without a prefix after one with it: the rest of a message logged with newlines
   * in it (an ipvsadm error, say). It carries the first line's stamp, cfgname and pid.
   */
  continuation: boolean;
}

const FILE_LINE = /^\[([^|\]]+)\|(.*?)\|(\d+)\] (.*)$/;
const STDOUT_LINE = /^\[([A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4})\] (.*)$/;

/**
 * Read one line. `head` is the last prefixed line before it, if the caller keeps track:
 * a line without a prefix is then its continuation.
 */
export function parseLine(raw: string, head: LogLine | null = null): LogLine {
  let stamp: string | null = null;
  let cfgname: string | null = null;
  let pid: number | null = null;
  let message = raw;
  let m = FILE_LINE.exec(raw);
  if (m && parsePerlLocaltime(m[1]!) !== null) {
    [stamp, cfgname, pid, message] = [m[1]!, m[2]!, Number(m[3]), m[4]!];
  } else if ((m = STDOUT_LINE.exec(raw))) {
    [stamp, message] = [m[1]!, m[2]!];
  }
  if (stamp === null && head && head.stamp !== null) {
    return {
      raw,
      stamp: head.stamp,
      time: head.time,
      cfgname: head.cfgname,
      pid: head.pid,
      message: raw,
      event: null,
      continuation: true,
    };
  }
  return {
    raw,
    stamp,
    time: stamp === null ? null : parsePerlLocaltime(stamp),
    cfgname,
    pid,
    message,
    event: parseMessage(message),
    continuation: false,
  };
}

// A real: `ip:port` or `[v6]:port`. A virtual: anything up to the closing parenthesis.
const R = String.raw`(\[[^\]\s]+\]:\d+|[^\s()\[\]]+:\d+)`;
const V = String.raw`([^\s()]+)`;
const MAPPED = String.raw`(?:mapped from ${R} )?`;

type Field = 'real' | 'mapped' | 'virtual' | 'weight' | 'reason' | 'skip';
const CATALOGUE: Array<[RegExp, LogEvent, Field[]]> = [
  [
    new RegExp(`^Added real server: ${R} \\(${V}\\) \\(Weight set to (\\d+)\\)`),
    'real-added',
    ['real', 'virtual', 'weight'],
  ],
  [
    new RegExp(`^Restored real server: ${R} \\(${V}\\) \\(Weight set to (\\d+)\\)`),
    'real-restored',
    ['real', 'virtual', 'weight'],
  ],
  [new RegExp(`^Deleted real server: ${R} ${MAPPED}\\(${V}\\)`), 'real-deleted', ['real', 'mapped', 'virtual']],
  [
    new RegExp(`^Quiescent real server: ${R} ${MAPPED}\\(${V}\\) \\(Weight set to (\\d+)\\)`),
    'real-quiescent',
    ['real', 'mapped', 'virtual', 'weight'],
  ],
  [
    new RegExp(`^Readd Quiescent real server: ${R} ${MAPPED}\\(${V}\\) \\(Weight set to (\\d+)\\)`),
    'real-readd-quiescent',
    ['real', 'mapped', 'virtual', 'weight'],
  ],
  [
    new RegExp(`^Soft failure real server: ${R} \\(${V}\\) failure (\\d+/\\d+)(?:: (.*))?$`),
    'real-soft-failure',
    ['real', 'virtual', 'skip', 'reason'],
  ],
  [new RegExp(`^Check failed: ${R} \\(${V}\\): (.*)$`), 'real-check-failed', ['real', 'virtual', 'reason']],
  [new RegExp(`^Resetting soft failure count: ${R} \\(${V}\\)`), 'real-soft-reset', ['real', 'virtual']],
  [new RegExp(`^Real server up: ${R} \\(${V}\\)(?:: (.*))?$`), 'real-up', ['real', 'virtual', 'reason']],
  [new RegExp(`^Real server down: ${R} \\(${V}\\)(?:: (.*))?$`), 'real-down', ['real', 'virtual', 'reason']],
  [new RegExp(`^Purged real server \\((?:start|stop)\\): ${R} \\(${V}\\)`), 'real-purged', ['real', 'virtual']],
  [
    new RegExp(`^Added fallback server: ${R} \\(${V}\\) \\(Weight set to (\\d+)\\)`),
    'fallback-added',
    ['real', 'virtual', 'weight'],
  ],
  [
    new RegExp(`^Restored fallback server: ${R} \\(${V}\\) \\(Weight set to (\\d+)\\)`),
    'fallback-restored',
    ['real', 'virtual', 'weight'],
  ],
  [new RegExp(`^Deleted fallback server: ${R} ${MAPPED}\\(${V}\\)`), 'fallback-deleted', ['real', 'mapped', 'virtual']],
  [
    new RegExp(`^Quiescent fallback server: ${R} ${MAPPED}\\(${V}\\) \\(Weight set to (\\d+)\\)`),
    'fallback-quiescent',
    ['real', 'mapped', 'virtual', 'weight'],
  ],
  [new RegExp(`^Added virtual server: ${V}$`), 'virtual-added', ['virtual']],
  [new RegExp(`^Changed virtual server: ${V}$`), 'virtual-changed', ['virtual']],
  [new RegExp(`^Purged virtual server \\((?:start|stop)\\): ${V}$`), 'virtual-purged', ['virtual']],
  [new RegExp(`^Killing child ${V} \\(?PID=\\d+\\)?$`), 'child-killed', ['virtual']],
  [new RegExp(`^Child not running for ${V}, spawning$`), 'child-missing', ['virtual']],
  [new RegExp(`^Spawned child ${V} PID=\\d+$`), 'child-spawned', ['virtual']],
];

/** The event a message reports, or null for any other message. */
export function parseMessage(message: string): MessageEvent | null {
  for (const [re, event, fields] of CATALOGUE) {
    const m = re.exec(message);
    if (!m) continue;
    const ev: MessageEvent = { event, virtual: '', virtualRef: null };
    fields.forEach((f, i) => {
      const v = m[i + 1];
      if (v === undefined) return;
      switch (f) {
        case 'real':
          ev.real = v;
          ev.realRef = parseReal(v);
          break;
        case 'mapped':
          ev.mappedFrom = v;
          ev.mappedFromRef = parseReal(v);
          break;
        case 'virtual':
          ev.virtual = v;
          ev.virtualRef = parseVirtual(v);
          break;
        case 'weight':
          ev.weight = Number(v);
          break;
        case 'reason':
          ev.reason = v;
          break;
        case 'skip':
          break;
      }
    });
    return ev;
  }
  return null;
}
