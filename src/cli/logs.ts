/**
 * `ldirectord [CONFIG] logs [-f] [-n N] [--virtual V] [--real R] [--since T] [--json] [--all]`:
 * the daemon's log file, as CONFIG's `logfile=` names it: the last N entries of this
 * instance (its cfgname; every instance's with --all) that pass the filters (default 10; a
 * message logged over several lines is one entry), then with -f what is appended, through
 * rotations, until SIGINT or SIGTERM. With a config that no longer parses, the running
 * daemon's log file (or the default one), said on stderr.
 *
 * Exit codes: 0 done (or stopped by a signal), 1 the config or the log file cannot be
 * read, 2 the config has errors or sends the logs elsewhere (syslog, the supervisor's
 * stdout), 255 an option value that cannot be read.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { destinationFor } from '../daemon/log-sinks';
import { query } from '../daemon/status-protocol';
import { BackwardSelector, ForwardSelector } from '../logs/entries';
import { buildFilter, type LineFilter } from '../logs/filter';
import { guardAt, LogFollower } from '../logs/follow';
import type { LogLine } from '../logs/line';
import { renderJson, renderText, useColour } from '../logs/render';
import { readBackwards } from '../logs/tail';
import { loadConfig, locateConfig, logfileBefore } from '../parser/load';
import { ConfigError } from '../parser/model';
import { DEFAULT_LOGFILE } from '../parser/directives';
import type { LogsOptions } from './args';

/**
 * Stamps are local time, which goes back an hour when summer time ends: the backwards scan
 * for --since only stops this far before the requested time.
 */
const SINCE_SLACK_MS = 3 * 3600_000;

const say = (msg: string) => process.stderr.write(`ldirectord logs: ${msg}\n`);

export async function runLogs(config: string, cfgname: string, opts: LogsOptions): Promise<number> {
  const file = locateConfig(config);
  if (file === null) {
    process.stderr.write(`Config file ${config} not found\n`);
    return 1;
  }
  let logfile: string;
  let supervised = false;
  try {
    // Only the globals matter here: no files are checked and checks are not validated.
    const cfg = await loadConfig(file, { checkFiles: false, validateChecks: false });
    ({ logfile, supervised } = cfg.global);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // A broken file on disk is when the operator most needs the logs: the running daemon
    // says where it logs (its last good config), else the file's own logfile= above the
    // error (as the original's partial parse had it), else the default.
    const running = await query(cfgname, 'status', 1000).catch(() => null);
    const named = running ? null : logfileBefore(file, e.line);
    logfile = running?.logfile ?? named ?? DEFAULT_LOGFILE;
    const whose = running
      ? "the running daemon's log file"
      : named
        ? 'the log file it names before the error'
        : 'the default log file';
    say(`${e.message}; showing ${logfile}, ${whose}`);
  }

  const dest = destinationFor(logfile, { debug: false, supervised });
  if (dest.kind === 'syslog') {
    process.stderr.write(
      `ldirectord for ${file} logs to syslog facility ${dest.facility}: try journalctl -t ldirectord or /var/log/syslog\n`,
    );
    return 2;
  }
  if (dest.kind !== 'file') {
    process.stderr.write(
      `ldirectord for ${file} runs supervised (supervised=yes) and logs to its supervisor's stdout: see the supervisor's log (e.g. journalctl -u <unit>)\n`,
    );
    return 2;
  }

  const filter = buildFilter({ ...opts, cfgname: opts.all ? null : cfgname }, new Date());
  if ('error' in filter) {
    say(filter.error);
    return 255;
  }
  const colour = useColour(process.stdout.isTTY, process.env);
  const render = (lines: LogLine[]): string =>
    lines.map((l) => (opts.json ? renderJson(l) : renderText(l, colour)) + '\n').join('');

  // A reader that goes away (`| head`) ends the command quietly.
  let stdoutGone: () => void = () => undefined;
  const onStdoutError = (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') say(`stdout: ${e.message}`);
    stdoutGone();
  };
  process.stdout.on('error', onStdoutError);
  const write = (text: string) => {
    if (text) process.stdout.write(text);
  };

  // With -f, SIGINT/SIGTERM end the command with 0. The handlers go in before anything is
  // printed: a Ctrl-C right after the backlog appears must not find the default action.
  let stopped: () => void = () => undefined;
  const stop = new Promise<void>((resolve) => (stopped = resolve));
  const onSignal = () => stopped();
  if (opts.follow) {
    stdoutGone = onSignal;
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const unhook = () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };

  let handle: FileHandle | null = null;
  try {
    handle = await open(dest.path, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (!(opts.follow && err.code === 'ENOENT')) {
      say(`cannot open log file ${dest.path}: ${err.code === 'ENOENT' ? 'No such file or directory' : err.message}`);
      unhook();
      return 1;
    }
  }

  let position = 0;
  let guard: Buffer = Buffer.alloc(0);
  if (handle) {
    try {
      const result = await lastEntries(handle, filter, opts);
      position = result.end;
      if (opts.follow) guard = await guardAt(handle, position);
      write(render(result.lines));
    } catch (e) {
      await handle.close();
      say(`cannot read log file ${dest.path}: ${(e as Error).message}`);
      unhook();
      return 1;
    }
    if (!opts.follow) {
      await handle.close();
      return 0;
    }
  }

  const forward = new ForwardSelector(filter);
  const follower = new LogFollower({
    path: dest.path,
    onLines: (lines) => write(render(lines.map((raw) => forward.next(raw)).filter((l): l is LogLine => l !== null))),
    onNotice: say,
    ...(handle ? { from: { handle, position, guard } } : {}),
  });
  try {
    await follower.start();
    await stop;
  } finally {
    unhook();
    await follower.close();
  }
  return 0;
}

/** The last entries that pass the filter; with -f, ending before an unfinished last line. */
async function lastEntries(
  handle: FileHandle,
  filter: LineFilter,
  opts: LogsOptions,
): Promise<{ lines: LogLine[]; end: number }> {
  const { size } = await handle.stat();
  if (opts.lines === 0 && !opts.follow) return { lines: [], end: size };
  const back = new BackwardSelector(filter, opts.lines, filter.since === null ? null : filter.since - SINCE_SLACK_MS);
  const r = await readBackwards(handle, { size, completeOnly: opts.follow, onLine: (raw) => back.prev(raw) });
  if (r.atStart) back.finish();
  return { lines: back.lines(), end: r.end };
}
