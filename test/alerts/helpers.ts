/**
 * Alert test helpers: a real SMTP server on loopback (the maintained `smtp-server`, the
 * same code base as nodemailer) that records every envelope and message, and a stand-in
 * for the daemon the plugins attach to.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { Config, DaemonStatus } from '../../src/parser/model';
import { Redactor } from '../../src/daemon/redact';
import type { Logger } from '../../src/util/log';

export interface Received {
  /** MAIL FROM. */
  from: string;
  /** Every accepted RCPT TO, in order. */
  to: string[];
  /** The message as received (CRLF line ends, dot-unstuffed). */
  raw: string;
}

export interface SmtpSink {
  port: number;
  mails: Received[];
  /** RCPT TO addresses seen, accepted or refused. */
  rcptSeen: string[];
  /** Wait until at least n mails arrived. */
  waitFor(n: number, ms?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** refuse: RCPT TO addresses answered 550. */
export async function smtpSink(opts: { refuse?: string[] } = {}): Promise<SmtpSink> {
  const mails: Received[] = [];
  const rcptSeen: string[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH'],
    logger: false,
    onRcptTo(address, _session, cb) {
      rcptSeen.push(address.address);
      if (opts.refuse?.includes(address.address)) {
        const err = new Error('no such user') as Error & { responseCode: number };
        err.responseCode = 550;
        cb(err);
      } else cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const mf = session.envelope.mailFrom;
        mails.push({
          from: mf ? mf.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    mails,
    rcptSeen,
    async waitFor(n, ms = 5000) {
      const until = Date.now() + ms;
      while (mails.length < n) {
        if (Date.now() > until)
          throw new Error(`expected ${n} mail(s), got ${mails.length}: ${mails.map((m) => subjectOf(m)).join(' / ')}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return mails;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function subjectOf(m: Received): string {
  return /^Subject: (.*)$/m.exec(m.raw)?.[1]?.replace(/\r$/, '') ?? '';
}

/** A daemon as the plugins see it: log lines collected (redacted, as the daemon's log), status settable. */
export interface TestHost {
  log: Logger;
  redactor: Redactor;
  config: Config;
  status: DaemonStatus;
  logs: string[];
}

export function testHost(cfg: Config, status: DaemonStatus = 'running'): TestHost {
  const logs: string[] = [];
  const redactor = new Redactor(cfg);
  const push = (prefix: string) => (m: string) => logs.push(prefix + redactor.redact(m));
  return {
    logs,
    redactor,
    config: cfg,
    status,
    log: { info: push(''), warn: push('WARN '), error: push('ERROR '), debug: () => undefined },
  };
}
