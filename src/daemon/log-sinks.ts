/**
 * Where the daemon's lines go, in the original's formats (spec §8.1), so existing log
 * parsers keep working:
 *   file     `[Sat Nov 21 10:50:06 2026|ldirectord.cf|4893] Added real server: …`
 *   syslog   logfile="local0" etc.: ident `ldirectord`, with the pid, priority info
 *   -d       stderr, the bare message
 *   supervised=yes  stdout, `[Sat Nov 21 10:50:06 2026] message`
 *
 * The log file is opened, appended to and closed for every batch of lines, as the original
 * does per line, so logrotate's rename (and copytruncate) needs no signal. It is never
 * written through a symlink, and only if it is a regular file. If it cannot be written
 * (a symlink, a FIFO, a deleted directory, permissions, a full disk), the line goes to
 * syslog and stderr instead and the daemon carries on.
 *
 * Every line is one line: control characters escaped, at most LOG_LINE_MAX characters,
 * so no text from outside can forge a line that `ldirectord logs` would take as the
 * daemon's; and every line passes through the redactor: passwd, secret and login values
 * from the config never reach a log.
 *
 * The daemon logs through winston (logging.ts), which dispatches to these sinks. A
 * command that only says a line or two (`status`, which the OCF agent runs every monitor
 * interval, `stop`, the waiting half of `start`) writes to them directly: loading winston
 * was a sixth of such a command's time, and failover waits for those commands.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { perlLocaltime } from '../perl/localtime';
import { inert, oneLine } from '../text/untrusted';
import { SafeAppender } from '../util/append';
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

/** One destination's writer: a line at a level, and when everything written has arrived. */
export interface Sink {
  write(level: string, message: string): void;
  drain(): Promise<void>;
  close(): void;
}

/** Lines waiting for the log file beyond which the oldest are dropped (a hung or full disk). */
const MAX_QUEUED_LINES = 10_000;

/**
 * Appends batches of lines, opening and closing the file each time (logrotate-safe), never
 * through a symlink and only to a regular file (util/append.ts). While the file cannot be
 * written, lines go to the fallback (syslog and stderr), with one line saying why when
 * that starts and one when the file is writable again.
 */
class FileSink implements Sink {
  private queue: string[] = [];
  private dropped = 0;
  private writing = false;
  private failing: string | null = null;
  private readonly file: SafeAppender;

  constructor(
    private readonly path: string,
    private readonly cfgname: string,
    private readonly fallback: (line: string) => void,
  ) {
    this.file = new SafeAppender(path);
  }

  write(_level: string, message: string): void {
    if (this.queue.length >= MAX_QUEUED_LINES) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(`[${perlLocaltime()}|${this.cfgname}|${process.pid}] ${message}\n`);
    this.flush();
  }

  private flush(): void {
    if (this.writing || !this.queue.length) return;
    if (this.dropped) {
      this.queue.unshift(`[${perlLocaltime()}|${this.cfgname}|${process.pid}] ${this.dropped} log lines dropped\n`);
      this.dropped = 0;
    }
    const lines = this.queue;
    this.queue = [];
    this.writing = true;
    this.file.append(lines.join(''), (err) => {
      this.writing = false;
      if (err) {
        const why = `cannot write to log file ${inert(this.path, 200)}: ${err.message}`;
        if (this.failing !== why) this.fallback(`${why}; logging to syslog and stderr until it can`);
        this.failing = why;
        for (const line of lines) this.fallback(line.replace(/^\[[^\]]*\] /, '').replace(/\n$/, ''));
      } else if (this.failing !== null) {
        this.failing = null;
        this.fallback(`log file ${inert(this.path, 200)} is writable again`);
      }
      this.flush();
    });
  }

  close(): void {
    // Nothing is held open: the file is opened for each batch.
  }

  /** Resolves once everything queued is on disk (or handed to the fallback). */
  drain(): Promise<void> {
    return new Promise((resolve) => {
      const poll = () => (this.writing || this.queue.length ? setTimeout(poll, 5) : resolve());
      poll();
    });
  }
}

/** After `logger` could not be started, how long stderr stands in before another try. */
const SYSLOG_RETRY_MS = 10_000;

/**
 * syslog through the system's `logger` program, started once and fed one line per
 * message (Node has no unix datagram sockets, and a native module is not worth it).
 * If it cannot be started (no `logger`, no descriptors left), lines go to stderr and it is
 * tried again after SYSLOG_RETRY_MS; if it exits, the next line starts another.
 */
export class SyslogWriter {
  private child: ChildProcess | null = null;
  private stdin: Writable | null = null;
  private retryAt = 0;

  constructor(private readonly facility: string) {}

  write(line: string): void {
    const stdin = this.stdin ?? this.start();
    if (stdin === null) process.stderr.write(line + '\n');
    else stdin.write(line + '\n');
  }

  private start(): Writable | null {
    if (Date.now() < this.retryAt) return null;
    const fail = () => {
      this.child = null;
      this.stdin = null;
      this.retryAt = Date.now() + SYSLOG_RETRY_MS;
    };
    let c: ChildProcess;
    try {
      c = spawn('logger', ['-t', 'ldirectord', `--id=${process.pid}`, '-p', `${this.facility}.info`], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
    } catch {
      fail();
      return null;
    }
    c.on('error', () => {
      if (this.child === c) fail();
    });
    c.on('exit', () => {
      if (this.child === c) [this.child, this.stdin] = [null, null];
    });
    if (!c.stdin) {
      // A spawn that failed at once (EMFILE, EAGAIN) has no pipes; 'error' follows.
      fail();
      return null;
    }
    c.stdin.on('error', () => undefined);
    c.unref();
    (c.stdin as unknown as { unref?: () => void }).unref?.();
    this.child = c;
    this.stdin = c.stdin;
    return c.stdin;
  }

  close(): void {
    this.stdin?.end();
  }

  /** Close, and wait (at most `ms`) until `logger` has taken every line and exited. */
  closeAndWait(ms: number): Promise<void> {
    const c = this.child;
    this.close();
    if (!c || c.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      c.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

class SyslogSink implements Sink {
  constructor(private readonly writer: SyslogWriter) {}
  write(_level: string, message: string): void {
    this.writer.write(message);
  }
  drain(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    this.writer.close();
  }
}

class StreamSink implements Sink {
  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly stamp: boolean,
  ) {}
  write(level: string, msg: string): void {
    const prefix = level === 'debug' ? 'DEBUG2: ' : '';
    this.stream.write(this.stamp ? `[${perlLocaltime()}] ${prefix}${msg}\n` : `${prefix}${msg}\n`);
  }
  drain(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    // the process's own stream
  }
}

/** The sink of a destination. */
export function sinkFor(dest: LogDestination, cfgname: string): Sink {
  switch (dest.kind) {
    case 'file': {
      // When the file cannot be written, say so on syslog and stderr, and keep going.
      const emergency = new SyslogWriter('daemon');
      return new FileSink(dest.path, cfgname, (line) => {
        emergency.write(line);
        process.stderr.write(line + '\n');
      });
    }
    case 'syslog':
      return new SyslogSink(new SyslogWriter(dest.facility));
    case 'stdout':
      return new StreamSink(process.stdout, true);
    case 'stderr':
      return new StreamSink(process.stderr, false);
  }
}

/** The longest line the daemon logs (its own messages are far shorter). */
const LOG_LINE_MAX = 4096;

export interface DaemonLogger extends Logger {
  /** Resolves when every line written so far has reached its destination. */
  flush(): Promise<void>;
  close(): void;
  readonly destination: LogDestination;
}

export interface LoggerOptions {
  cfgname: string;
  debug: boolean;
  redactor: Redactor;
}

/** winston's levels, most severe first; debug only with -d. */
export const LEVELS = { error: 0, warn: 1, info: 2, debug: 3 } as const;
export type Level = keyof typeof LEVELS;

/**
 * A logger over `sink`: each message made one bounded line without secrets (the last line
 * of defence: whatever a message carries, a server's text that some path forgot to make
 * inert, reaches the log that way), then handed to `emit` (winston's dispatch, or the
 * sink itself). Debug lines only with -d.
 */
export function loggerOver(
  dest: LogDestination,
  sink: Sink,
  opts: LoggerOptions,
  emit: (level: Level, line: string) => void = (level, line) => sink.write(level, line),
  close: () => void = () => sink.close(),
): DaemonLogger {
  const at = (level: Level) => (msg: string) => {
    if (level === 'debug' && !opts.debug) return;
    emit(level, oneLine(opts.redactor.redact(msg), LOG_LINE_MAX));
  };
  return {
    destination: dest,
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
    flush: () => sink.drain(),
    close,
  };
}

/** A logger that writes to its destination directly (the short-lived commands). */
export function createDirectLogger(dest: LogDestination, opts: LoggerOptions): DaemonLogger {
  return loggerOver(dest, sinkFor(dest, opts.cfgname), opts);
}
