/**
 * The daemon's logger: winston, dispatching to the original's destinations through the
 * sinks of log-sinks.ts (formats, rotation, symlink safety, fallbacks and redaction are
 * described there).
 */
import winston from 'winston';
import Transport from 'winston-transport';
import {
  LEVELS,
  loggerOver,
  sinkFor,
  type DaemonLogger,
  type LogDestination,
  type LoggerOptions,
  type Sink,
} from './log-sinks';

/** Winston's side of a sink. */
class SinkTransport extends Transport {
  constructor(private readonly sink: Sink) {
    super();
  }

  override log(info: { level: string; message: unknown }, next: () => void): void {
    this.sink.write(info.level, String(info.message));
    next();
  }
}

export function createLogger(dest: LogDestination, opts: LoggerOptions): DaemonLogger {
  const sink = sinkFor(dest, opts.cfgname);
  const w = winston.createLogger({
    levels: { ...LEVELS },
    level: opts.debug ? 'debug' : 'info',
    transports: [new SinkTransport(sink)],
    exitOnError: false,
  });
  return loggerOver(
    dest,
    sink,
    opts,
    (level, line) => w.log(level, line),
    () => {
      sink.close();
      w.close();
    },
  );
}
