/**
 * Logging through winston, to the original's destinations in the original's formats
 * (spec §8.1), so existing log parsers keep working:
 *   file     `[Sat Nov 21 10:50:06 2026|ldirectord.cf|4893] Added real server: …`
 *   syslog   logfile="local0" etc.: ident `ldirectord`, with the pid, priority info
 *   -d       stderr, the bare message
 *   supervised=yes  stdout, `[Sat Nov 21 10:50:06 2026] message`
 *
 * The log file is opened, appended to and closed for every batch of lines, as the original
 * does per line, so logrotate's rename (and copytruncate) needs no signal. If the file
 * cannot be written (deleted directory, permissions, full disk), the line goes to syslog
 * and stderr instead and the daemon carries on.
 *
 * Every line passes through the redactor: passwd, secret and login values from the config
 * never reach a log.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { appendFile } from 'node:fs';
import winston from 'winston';
import Transport from 'winston-transport';
import { perlLocaltime } from '../perl/localtime';
import type { Logger } from '../util/log';
import type { Redactor } from './redact';

export type LogDestination =
  { kind: 'file'; path: string } | { kind: 'syslog'; facility: string } | { kind: 'stdout' } | { kind: 'stderr' };

/** Where the original would log: -d → stderr, supervised → stdout, "/path" → file, else syslog. */
export function destinationFor(logfile: string, opts: { debug: boolean; supervised: boolean }): LogDestination {
  if (opts.debug) return { kind: 'stderr' };
  if (opts.supervised) return { kind: 'stdout' };
  if (logfile.startsWith('/')) return { kind: 'file', path: logfile };
  return { kind: 'syslog', facility: logfile };
}

interface Info {
  level: string;
  message: unknown;
}

/** Appends batches of lines, opening and closing the file each time (logrotate-safe). */
class FileTransport extends Transport {
  private queue: string[] = [];
  private writing = false;

  constructor(
    private readonly path: string,
    private readonly cfgname: string,
    private readonly fallback: (line: string) => void,
  ) {
    super();
  }

  override log(info: Info, next: () => void): void {
    this.queue.push(`[${perlLocaltime()}|${this.cfgname}|${process.pid}] ${String(info.message)}\n`);
    this.flush();
    next();
  }

  private flush(): void {
    if (this.writing || !this.queue.length) return;
    const batch = this.queue.join('');
    this.queue = [];
    this.writing = true;
    appendFile(this.path, batch, { mode: 0o640 }, (err) => {
      this.writing = false;
      if (err) {
        for (const line of batch.split('\n').filter(Boolean)) this.fallback(`${line.replace(/^\[[^\]]*\] /, '')}`);
        this.fallback(`cannot write to log file ${this.path}: ${err.code ?? err.message}`);
      }
      this.flush();
    });
  }

  /** Resolves once everything queued is on disk (or handed to the fallback). */
  drain(): Promise<void> {
    return new Promise((resolve) => {
      const poll = () => (this.writing || this.queue.length ? setTimeout(poll, 5) : resolve());
      poll();
    });
  }
}

/**
 * syslog through the system's `logger` program, started once and fed one line per
 * message (Node has no unix datagram sockets, and a native module is not worth it).
 */
export class SyslogWriter {
  private child: ChildProcessByStdio<Writable, null, Readable> | null = null;
  private broken = false;

  constructor(private readonly facility: string) {}

  write(line: string): void {
    if (this.broken) {
      process.stderr.write(line + '\n');
      return;
    }
    if (!this.child) {
      const c = spawn('logger', ['-t', 'ldirectord', `--id=${process.pid}`, '-p', `${this.facility}.info`], {
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      c.on('error', () => {
        this.broken = true;
        this.child = null;
      });
      c.on('exit', () => {
        this.child = null;
      });
      c.stdin.on('error', () => undefined);
      c.unref();
      (c.stdin as unknown as { unref?: () => void }).unref?.();
      this.child = c;
    }
    this.child.stdin.write(line.replace(/\n/g, ' ') + '\n');
  }

  close(): void {
    this.child?.stdin.end();
  }
}

class SyslogTransport extends Transport {
  constructor(private readonly writer: SyslogWriter) {
    super();
  }

  override log(info: Info, next: () => void): void {
    this.writer.write(String(info.message));
    next();
  }
}

class StreamTransport extends Transport {
  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly stamp: boolean,
  ) {
    super();
  }

  override log(info: Info, next: () => void): void {
    const msg = String(info.message);
    const prefix = info.level === 'debug' ? 'DEBUG2: ' : '';
    this.stream.write(this.stamp ? `[${perlLocaltime()}] ${prefix}${msg}\n` : `${prefix}${msg}\n`);
    next();
  }
}

export interface DaemonLogger extends Logger {
  /** Resolves when every line written so far has reached its destination. */
  flush(): Promise<void>;
  close(): void;
  readonly destination: LogDestination;
}

export function createLogger(
  dest: LogDestination,
  opts: { cfgname: string; debug: boolean; redactor: Redactor },
): DaemonLogger {
  const transports: Transport[] = [];
  let file: FileTransport | null = null;
  let syslog: SyslogWriter | null = null;
  switch (dest.kind) {
    case 'file': {
      // When the file cannot be written, say so on syslog and stderr, and keep going.
      const emergency = new SyslogWriter('daemon');
      file = new FileTransport(dest.path, opts.cfgname, (line) => {
        emergency.write(line);
        process.stderr.write(line + '\n');
      });
      transports.push(file);
      break;
    }
    case 'syslog':
      syslog = new SyslogWriter(dest.facility);
      transports.push(new SyslogTransport(syslog));
      break;
    case 'stdout':
      transports.push(new StreamTransport(process.stdout, true));
      break;
    case 'stderr':
      transports.push(new StreamTransport(process.stderr, false));
      break;
  }
  const w = winston.createLogger({
    levels: { error: 0, warn: 1, info: 2, debug: 3 },
    level: opts.debug ? 'debug' : 'info',
    transports,
    exitOnError: false,
  });
  const emit = (level: string) => (msg: string) => {
    w.log(level, opts.redactor.redact(msg));
  };
  return {
    destination: dest,
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    debug: emit('debug'),
    flush: () => (file ? file.drain() : Promise.resolve()),
    close: () => {
      syslog?.close();
      w.close();
    },
  };
}
