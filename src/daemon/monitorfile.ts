/**
 * monitorfile= (spec §8.4): one line per check result, for every virtual with a
 * monitorfile that the checked real belongs to, in the format the original ACTUALLY
 * writes (its man page is wrong):
 *
 *   [Sat Nov 21 10:54:55 2026] [28852] negotiate http tcp 127.0.0.3 8080 1 masq /  [down] 500 Can't connect …
 *
 * i.e. `[<localtime>] [<pid>] <real id> [up|down] <msg>`, where the real id is Perl's
 * get_real_id_str with runs of ':' squeezed to one space and every '\' removed, and
 * `%`, `|`, CR and LF of the message are written as `%xx` (lowercase hex).
 *
 * Each batch of lines is appended with open/append/close, as the original does per line,
 * so logrotate can rename the file under a running daemon; never through a symlink and
 * only to a regular file (util/append.ts). Lines to one file keep their
 * order (one write in flight per file). A write failure is logged (once, until the file is
 * writable again) and never stops the daemon (Perl died on it). Every line passes the
 * redactor, so a passwd/login that ends up in a request or a check message is not written.
 */
import { bracketHost, protocolOf, type RealServer, type VirtualService } from '../parser/model';
import type { DaemonPlugin } from './daemon';
import type { EngineEvent } from '../engine/events';
import type { Logger } from '../util/log';
import { perlLocaltime } from '../perl/localtime';
import { quotemeta } from '../perl/strings';
import { SafeAppender } from '../util/append';

/** What the plugins of this family need from the daemon (the Daemon class has all of it). */
export interface MonitorHost {
  log: Logger;
  redactor: { redact(text: string): string };
}

export interface MonitorFileOptions {
  /** The time of a line (tests). */
  now?: () => Date;
  /** The pid written in each line (tests); the daemon's own by default. */
  pid?: number;
  /** Lines waiting for one file beyond which the oldest are dropped (a hung disk). */
  maxQueued?: number;
}

/**
 * Perl get_real_id_str(r, v): `<check>:<protocol>:<server>:<port>:<virtualhost>:<checkport>:
 * <weight>:<forward>:quotemeta(request):quotemeta(receive)` (one string, no line break),
 * where check is `negotiate:<service>` / `combined:<service>`, `external:<checkcommand>`,
 * or the checktype; the server of an IPv6 real is in brackets, as Perl stores it.
 */
export function realIdStr(v: VirtualService, r: RealServer): string {
  const request = r.request ?? v.request;
  const receive = r.receive ?? v.receive;
  let check: string;
  if (v.checktype === 'negotiate' || v.checktype === 'combined') check = `${v.checktype}:${v.service}`;
  else if (v.checktype === 'external' || v.checktype === 'external-perl') check = `${v.checktype}:${v.checkcommand}`;
  else check = v.checktype;
  const server = bracketHost(r.address);
  return [
    check,
    protocolOf(v),
    server,
    r.port,
    v.virtualhost ?? '',
    v.checkport ?? '',
    r.weight,
    r.forward,
    quotemeta(request),
    quotemeta(receive),
  ].join(':');
}

/** The real id as the monitorfile shows it: `tr/:/ /s` then `s/\\//g`. */
export function realIdForLog(v: VirtualService, r: RealServer): string {
  return realIdStr(v, r).replace(/:+/g, ' ').replace(/\\/g, '');
}

/** Perl: `s/([%|\r\n])/sprintf("%%%.2x", ord($1))/eg`; an absent message is `-`. */
export function encodeMonitorMessage(msg: string | null | undefined): string {
  if (msg === null || msg === undefined || msg === '') return '-';
  return msg.replace(/[%|\r\n]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

export function monitorLine(
  when: Date,
  pid: number,
  v: VirtualService,
  r: RealServer,
  up: boolean,
  reason: string,
): string {
  return `[${perlLocaltime(when)}] [${pid}] ${realIdForLog(v, r)} [${up ? 'up' : 'down'}] ${encodeMonitorMessage(reason)}\n`;
}

interface FileQueue {
  file: SafeAppender;
  lines: string[];
  writing: boolean;
  /** The error code of the last failed write, while it keeps failing. */
  failing: string | null;
  dropped: number;
}

export class MonitorFile implements DaemonPlugin {
  private host: MonitorHost | null = null;
  /** Lines of checks that reported before start() (the engine starts before its plugins). */
  private early: Array<[string, string]> = [];
  private readonly files = new Map<string, FileQueue>();
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: MonitorFileOptions = {}) {}

  start(d: MonitorHost): void {
    this.host = d;
    const early = this.early;
    this.early = [];
    for (const [file, line] of early) this.enqueue(file, line);
  }

  event(e: EngineEvent): void {
    if (e.type !== 'check') return;
    let when: Date | undefined;
    const pid = this.opts.pid ?? process.pid;
    for (const m of e.probe.members) {
      const file = m.v.monitorfile;
      if (!file) continue; // the common case: no monitorfile, nothing to do per check
      when ??= this.opts.now?.() ?? new Date();
      const line = monitorLine(when, pid, m.v, m.r, e.result.up, e.result.reason);
      if (this.host) this.enqueue(file, line);
      else if (this.early.length < (this.opts.maxQueued ?? 10000)) this.early.push([file, line]);
    }
  }

  /** Resolves once every line so far has been written (or has failed). */
  idle(): Promise<void> {
    if (![...this.files.values()].some((q) => q.writing || q.lines.length)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, 3000).unref())]);
  }

  private enqueue(file: string, line: string): void {
    const host = this.host!;
    let q = this.files.get(file);
    if (!q)
      this.files.set(
        file,
        (q = { file: new SafeAppender(file), lines: [], writing: false, failing: null, dropped: 0 }),
      );
    q.lines.push(host.redactor.redact(line));
    const max = this.opts.maxQueued ?? 10000;
    if (q.lines.length > max) {
      q.dropped += q.lines.length - max;
      q.lines.splice(0, q.lines.length - max);
    }
    this.flush(file, q);
  }

  private flush(file: string, q: FileQueue): void {
    if (q.writing) return;
    if (!q.lines.length) {
      this.checkIdle();
      return;
    }
    const batch = q.lines.join('');
    const n = q.lines.length;
    q.lines = [];
    q.writing = true;
    // open(">>"), print, close: a rotated file is simply created again.
    q.file.append(batch, (err) => {
      q.writing = false;
      const log = this.host!.log;
      if (err) {
        const code = err.code;
        if (q.failing !== code)
          log.error(
            `Error writing to monitorfile '${file}': ${err.message} (${n} line${n === 1 ? '' : 's'} lost; the daemon carries on)`,
          );
        q.failing = code;
      } else if (q.failing !== null) {
        log.info(`monitorfile '${file}' is writable again`);
        q.failing = null;
      }
      if (q.dropped) {
        log.error(`monitorfile '${file}': ${q.dropped} line(s) dropped while the file could not keep up`);
        q.dropped = 0;
      }
      this.flush(file, q);
    });
  }

  private checkIdle(): void {
    if ([...this.files.values()].some((q) => q.writing || q.lines.length)) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
