/**
 * E-mail alerts (spec §8.3, Perl ld_emailalert_send and friends).
 *
 * What sends an alert: the log lines the original sends one for, taken from the engine's
 * `applied` events (and `purged` at stop): Added/Restored/Deleted/Quiescent/Readd
 * Quiescent real server, Purged real server (start|stop), Added/Deleted fallback server.
 * Nothing for soft failures, resets, or virtual-service lines.
 *
 * Filters, as Perl: the daemon's current status must be in the virtual's
 * `emailalertstatus`, and its (effective) `emailalert` must be set. Then it logs
 * `emailalert: <subject>` and sends
 *
 *   From: <emailalertfrom, or user@host>
 *   To: <emailalert>
 *   Subject: [<servicename>] <message>        (no brackets without servicename)
 *
 *   ldirectord host: <hostname>
 *   Log-Message: <subject>
 *   Daemon-Status: starting|running|stopping|reloading
 *
 *   Service name: <servicename>               (these two only when set)
 *   Comment: <comment>
 *
 * Transport: with `smtp=<host>`, SMTP to that host, port 25 (LDIRECTORD_SMTP_PORT or the
 * smtpPort option change it, for tests), envelope sender `<user>@<hostname>`, and one
 * RCPT per address of a comma-separated emailalert (W-7 fixed: Perl gave the whole list
 * as one RCPT, which servers reject, so nothing was sent). Without smtp, the message goes
 * to the local `sendmail -t -i` (argv, no shell), as Mail::Send did; without a sendmail,
 * the failure is logged. Plain SMTP as Net::SMTP (no STARTTLS): a relay with a broken
 * or self-signed certificate keeps working exactly as it did.
 *
 * Reminders (emailalertfreq > 0): a real taken down (Quiescent, Readd Quiescent, Deleted;
 * not the fallback) gets `Inaccessible real server: <rip:rport> (<V>)` every
 * emailalertfreq seconds until any alert that brings it back (or its up transition).
 * Unlike Perl, the reminder is keyed by the configured real, so a gate/ipip real whose
 * kernel entry is `rip:vport` stops reminding when it is restored; a reminder whose
 * virtual or real a reload removed, or whose emailalertfreq became 0, stops.
 *
 * Sending never blocks the checks: mails queue and go out one at a time in the
 * background, each bounded by a timeout; a failure is logged (`failed to send SMTP email
 * message: …`, `failed to send email message: …`) and the daemon carries on. Every mail
 * passes the redactor (passwd, secret, login never leave the daemon).
 */
import { execFile } from 'node:child_process';
import { isExecutable } from '../util/fs';
import { hostname as osHostname, userInfo } from 'node:os';
import addressparser from 'nodemailer/lib/addressparser';
import { DAEMON_STATUS, type Config, type DaemonStatus, type VirtualService } from '../parser/model';
import { destKey } from '../reconcile/table';
import { realClock, type Clock } from '../schedule/clock';
import { perlTrue } from '../perl/strings';
import type { DaemonPlugin } from './daemon';
import type { EngineEvent } from '../engine/events';
import { alertSubject, isPurge } from '../reconcile/ops';
import type { Logger } from '../util/log';
import { trackChild } from '../util/children';

/** What the plugin needs from the daemon (the Daemon class has all of it). */
export interface AlertHost {
  log: Logger;
  redactor: { redact(text: string): string };
  config: Config;
  status: DaemonStatus;
}

export interface EmailAlertOptions {
  /** Time for reminders (tests use a FakeClock). */
  clock?: Clock;
  /** SMTP port; default LDIRECTORD_SMTP_PORT, else 25 (smtp= takes no port). */
  smtpPort?: number;
  /** The sendmail program; null: none; default the first of MAILERS that is executable. */
  sendmail?: string | null;
  /** `ldirectord host:` and the sender's domain; default the system host name. */
  hostname?: string;
  /** The sender's user name; default the user the daemon runs as. */
  user?: string;
  /** Bound for one mail, connection to end, in ms. */
  timeoutMs?: number;
  /** Mails waiting beyond which new ones are dropped (a dead relay and a flapping farm). */
  maxQueued?: number;
  /** --dry-run: log what would be mailed, send nothing (as fallbackcommand is not run). */
  dryRun?: boolean;
}

/** Where Mail::Mailer looks for sendmail. */
export const MAILERS = ['/usr/sbin/sendmail', '/usr/lib/sendmail'];
/** Test knob: the SMTP port (smtp= cannot name one; the original always used 25). */
export const SMTP_PORT_ENV = 'LDIRECTORD_SMTP_PORT';

/** What one engine event means for alerts. */
export interface Alert {
  /** The virtual it is about (Perl virtual id). */
  vid: string;
  /** The subject before any `[servicename]`: the original's log line. */
  subject: string;
  /** Reminder bookkeeping (Perl %EMAILSTATUS), keyed `<vid>|<configured rip:rport>`. */
  key: string;
  /** A real taken down: remember it for reminders, shown as `<rip:rport> (<V>)`. */
  down: string | null;
}

/** The alert for an engine event, or null when the original sends none for it. */
export function alertFor(e: EngineEvent): Alert | null {
  if (e.type === 'purged') {
    return { vid: e.v.id, subject: e.message, key: `${e.v.id}|${destKey(e.r.address, e.r.port)}`, down: null };
  }
  // The pool policy's crossings (this daemon's additions), once each way, as their log lines.
  if (e.type === 'panic' || e.type === 'quorum') {
    return { vid: e.v.id, subject: e.message, key: `${e.v.id}|${e.type}`, down: null };
  }
  if (e.type !== 'applied') return null;
  const op = e.op;
  const subject = alertSubject(op, e.context);
  switch (op.kind) {
    case 'addDest':
    case 'editDest': {
      // A real taken to weight 0 (quiesced, or re-added quiesced) is a real taken down.
      const down = op.dest.role === 'real' && op.dest.weight === 0 ? `${op.dest.key} (${op.svc.label})` : null;
      return { vid: op.svc.vid, subject, key: `${op.svc.vid}|${op.dest.label}`, down };
    }
    case 'deleteDest': {
      const down = op.role === 'real' && !isPurge(op, e.context) ? `${op.before.key} (${op.svc.label})` : null;
      return { vid: op.svc.vid, subject, key: `${op.svc.vid}|${op.label}`, down };
    }
    default:
      return null;
  }
}

/** A header value stays on its line. */
const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ');

export interface AlertMessage {
  /** The From header; null leaves it to sendmail (Mail::Send without emailalertfrom). */
  from: string | null;
  to: string;
  /** The full subject (with `[servicename]` when set). */
  subject: string;
  hostname: string;
  status: DaemonStatus;
  servicename: string | null;
  comment: string | null;
}

/** The mail exactly as Perl writes it (ld_emailalert_net_smtp), with `eol` line ends. */
export function composeAlert(m: AlertMessage, eol: '\n' | '\r\n' = '\n'): string {
  let text = '';
  if (m.from !== null) text += `From: ${oneLine(m.from)}\n`;
  text += `To: ${oneLine(m.to)}\nSubject: ${oneLine(m.subject)}\n\n`;
  text += `ldirectord host: ${m.hostname}\nLog-Message: ${oneLine(m.subject)}\nDaemon-Status: ${m.status}\n`;
  let extra = '';
  if (perlTrue(m.servicename)) extra += `Service name: ${m.servicename}\n`;
  if (perlTrue(m.comment)) extra += `Comment: ${m.comment}\n`;
  if (extra) text += `\n${extra}\n`;
  return eol === '\n' ? text : text.replace(/\n/g, '\r\n');
}

/** The addresses of an emailalert value: a comma list, `Name <a@b>` forms allowed (W-7). */
export function recipients(emailalert: string): string[] {
  const out: string[] = [];
  for (const a of addressparser(emailalert, { flatten: true })) if (a.address) out.push(a.address);
  return out;
}

interface Reminder {
  vid: string;
  key: string;
  display: string;
  alerttime: number;
  timer: unknown;
}

interface Job {
  v: VirtualService;
  subject: string;
  status: DaemonStatus;
}

export class EmailAlerts implements DaemonPlugin {
  private host: AlertHost | null = null;
  /** Events from before start() (the engine starts before its plugins): status 'starting'. */
  private early: EngineEvent[] = [];
  private readonly reminders = new Map<string, Reminder>();
  private queue: Job[] = [];
  private sending = false;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;
  private readonly clock: Clock;
  readonly smtpPort: number;
  readonly hostname: string;
  readonly user: string;
  private readonly timeoutMs: number;
  /** Mails handed to a transport that accepted them (status, tests). */
  stats = { sent: 0, failed: 0, dropped: 0 };

  constructor(private readonly opts: EmailAlertOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.smtpPort = opts.smtpPort ?? portFromEnv() ?? 25;
    this.hostname = opts.hostname ?? osHostname();
    this.user = opts.user ?? currentUser();
    this.timeoutMs = opts.timeoutMs ?? 30000;
  }

  start(d: AlertHost): void {
    this.host = d;
    const early = this.early;
    this.early = [];
    for (const e of early) this.handle(e, 'starting');
  }

  event(e: EngineEvent): void {
    if (this.stopped) return;
    if (!this.host) {
      if (this.early.length < 10000) this.early.push(e);
      return;
    }
    this.handle(e, this.host.status);
  }

  /** Forget reminders whose virtual or real the new config no longer has. */
  reloaded(cfg: Config): void {
    for (const r of [...this.reminders.values()]) {
      const v = cfg.virtuals.find((x) => x.id === r.vid);
      if (!v || !hasReal(v, r.key) || v.emailalertfreq === 0) this.forget(r.key);
      else this.arm(r, v);
    }
  }

  /** Stop reminders, then give the mails still queued a bounded time to go out. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const r of this.reminders.values()) this.clock.clearTimeout(r.timer);
    this.reminders.clear();
    const bound = Math.min(this.timeoutMs, 8000);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, bound)))]);
    clearTimeout(timer);
    if (this.queue.length || this.sending)
      this.host?.log.error(
        `failed to send email message: ${this.queue.length + (this.sending ? 1 : 0)} alert(s) still unsent at stop`,
      );
  }

  /** Resolves when no mail is queued or being sent. */
  idle(): Promise<void> {
    if (!this.sending && !this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Reminders pending, as `<rip:rport> (<V>)` (status, tests). */
  get pendingReminders(): string[] {
    return [...this.reminders.values()].map((r) => r.display);
  }

  private handle(e: EngineEvent, status: DaemonStatus): void {
    if (e.type === 'transition') {
      // Up again: whatever the table needed (maybe nothing), it is no longer inaccessible.
      if (e.t.kind === 'up')
        this.forget(`${e.t.member.member.v.id}|${destKey(e.t.member.member.r.address, e.t.member.member.r.port)}`);
      return;
    }
    const a = alertFor(e);
    if (!a) return;
    const v = this.virtual(a.vid);
    if (!v) {
      this.forget(a.key);
      return;
    }
    this.alert(v, a.subject, status, a.key, a.down);
  }

  private virtual(vid: string): VirtualService | undefined {
    return this.host?.config.virtuals.find((v) => v.id === vid);
  }

  /** Perl ld_emailalert_send. */
  private alert(v: VirtualService, subject: string, status: DaemonStatus, key: string, down: string | null): void {
    const host = this.host!;
    if (down !== null && v.emailalertfreq > 0 && !this.stopped) this.remember(v, key, down);
    else this.forget(key);
    if ((DAEMON_STATUS[status] & v.emailalertstatus) === 0) return;
    if (!v.emailalert) return;
    host.log.info(`emailalert: ${subject}`);
    const full = perlTrue(v.servicename) ? `[${v.servicename}] ${subject}` : subject;
    if (this.opts.dryRun) {
      host.log.info(
        `dry-run: would mail "${full}" to ${v.emailalert}${v.smtp ? ` via ${v.smtp}:${this.smtpPort}` : ' via sendmail'}`,
      );
      return;
    }
    const max = this.opts.maxQueued ?? 1000;
    if (this.queue.length >= max) {
      this.stats.dropped++;
      host.log.error(`failed to send email message: ${max} alerts already waiting, dropped: ${full}`);
      return;
    }
    this.queue.push({ v, subject: full, status });
    void this.pump();
  }

  private remember(v: VirtualService, key: string, display: string): void {
    let r = this.reminders.get(key);
    if (!r) this.reminders.set(key, (r = { vid: v.id, key, display, alerttime: 0, timer: null }));
    r.display = display;
    r.alerttime = this.clock.now();
    this.arm(r, v);
  }

  private forget(key: string): void {
    const r = this.reminders.get(key);
    if (!r) return;
    this.clock.clearTimeout(r.timer);
    this.reminders.delete(key);
  }

  private arm(r: Reminder, v: VirtualService): void {
    if (r.timer !== null) this.clock.clearTimeout(r.timer);
    const wait = Math.max(0, r.alerttime + v.emailalertfreq * 1000 - this.clock.now());
    r.timer = this.clock.setTimeout(() => this.remind(r.key), wait);
  }

  /** Perl ld_emailalert_resend, for one real. */
  private remind(key: string): void {
    const r = this.reminders.get(key);
    if (!r || this.stopped || !this.host) return;
    r.timer = null;
    const v = this.virtual(r.vid);
    if (!v || !hasReal(v, key) || v.emailalertfreq === 0) {
      this.forget(key);
      return;
    }
    if (this.clock.now() - r.alerttime < v.emailalertfreq * 1000) {
      this.arm(r, v);
      return;
    }
    this.alert(v, `Inaccessible real server: ${r.display}`, this.host.status, key, r.display);
  }

  private async pump(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      for (let job = this.queue.shift(); job; job = this.queue.shift()) {
        try {
          const ok = await this.deliver(job);
          if (ok) this.stats.sent++;
          else this.stats.failed++;
        } catch (e) {
          this.stats.failed++;
          this.host?.log.error(`failed to send email message: ${(e as Error).message}`);
        }
      }
    } finally {
      this.sending = false;
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  private deliver(job: Job): Promise<boolean> {
    const { v } = job;
    const host = this.host!;
    const self = `${this.user}@${this.hostname}`;
    const from = host.config.global.emailalertfrom;
    const msg: AlertMessage = {
      from: from ?? self,
      to: v.emailalert!,
      subject: job.subject,
      hostname: this.hostname,
      status: job.status,
      servicename: v.servicename,
      comment: v.comment,
    };
    if (v.smtp) return this.viaSmtp(v.smtp, self, msg);
    // Mail::Send sets From only when emailalertfrom is given; sendmail supplies it otherwise.
    return this.viaSendmail({ ...msg, from: from ?? null });
  }

  private async viaSmtp(server: string, envelopeFrom: string, msg: AlertMessage): Promise<boolean> {
    const log = this.host!.log;
    const to = recipients(msg.to);
    if (!to.length) {
      log.error(`failed to send SMTP email message: no address in emailalert "${msg.to}"`);
      return false;
    }
    const stage = Math.min(this.timeoutMs, 10000);
    // Loaded with the first mail, not by every daemon start (most configs send none).
    const { createTransport } = await import('nodemailer');
    const transport = createTransport({
      host: server,
      port: this.smtpPort,
      secure: false,
      ignoreTLS: true,
      name: this.hostname,
      connectionTimeout: stage,
      greetingTimeout: stage,
      socketTimeout: this.timeoutMs,
      dnsTimeout: stage,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const raw = this.host!.redactor.redact(composeAlert(msg, '\r\n'));
      const sent = transport.sendMail({ envelope: { from: envelopeFrom, to }, raw });
      const timeout = new Promise<never>((_r, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${this.timeoutMs / 1000} s`)), this.timeoutMs);
      });
      const info = await Promise.race([sent, timeout]);
      const rejected = (info.rejected ?? []).map(String);
      if (rejected.length)
        log.error(`failed to send SMTP email message to ${rejected.join(', ')}: refused by ${server}:${this.smtpPort}`);
      return rejected.length < to.length;
    } catch (e) {
      log.error(`failed to send SMTP email message: ${server}:${this.smtpPort}: ${(e as Error).message}`);
      return false;
    } finally {
      clearTimeout(timer);
      transport.close();
    }
  }

  private viaSendmail(msg: AlertMessage): Promise<boolean> {
    const log = this.host!.log;
    const program = this.opts.sendmail !== undefined ? this.opts.sendmail : (MAILERS.find(isExecutable) ?? null);
    if (!program) {
      log.error(
        `failed to send email message: no mailer available (no smtp= and no sendmail at ${MAILERS.join(' or ')})`,
      );
      return Promise.resolve(false);
    }
    const text = this.host!.redactor.redact(composeAlert(msg, '\n'));
    return new Promise((resolve) => {
      const child = execFile(
        program,
        ['-t', '-i'],
        { timeout: this.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 },
        (err, _stdout, stderr) => {
          if (err) {
            const why = String(stderr).trim() || err.message;
            log.error(`failed to send email message: ${program} -t -i: ${why.split('\n')[0]}`);
            resolve(false);
          } else resolve(true);
        },
      );
      trackChild(child);
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(text);
    });
  }
}

function hasReal(v: VirtualService, key: string): boolean {
  return v.reals.some((r) => `${v.id}|${destKey(r.address, r.port)}` === key);
}

function portFromEnv(): number | null {
  const s = process.env[SMTP_PORT_ENV];
  if (s === undefined || s === '') return null;
  const n = Number(s);
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : null;
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'ldirectord');
  }
}
