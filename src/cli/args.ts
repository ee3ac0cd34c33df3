/**
 * argv → what to do. Pure; exit codes and output live in cli.ts.
 *
 * The original's grammar (Getopt::Long with require_order): options come before the
 * positional arguments; `[CONFIG] COMMAND`, where a lone COMMAND means CONFIG=ldirectord.cf.
 * Additions (reference/cli.md) keep that shape: `--check`, `--dry-run`, `--ipvsadm PATH`,
 * and per-command options after the command word (`status -v`, `logs -f -n 20`).
 */
import { cfgName } from '../parser/load';

export { cfgName };

export const DAEMON_COMMANDS = ['start', 'stop', 'restart', 'try-restart', 'reload', 'force-reload', 'status'] as const;
export type DaemonCommand = (typeof DAEMON_COMMANDS)[number];

export interface GlobalOptions {
  debug: boolean;
  ipvsadm: string | null;
  json: boolean;
  dryRun: boolean;
  /** --dry-run: the running daemon's CONFIG, when it is not the candidate's name. */
  against: string | null;
  metrics: string | null;
  /** --status-page: serve the status page on the metrics listener. */
  statusPage: boolean;
}

export interface LogsOptions {
  /** Every instance's lines of a shared log file, not only this config's. */
  all: boolean;
  follow: boolean;
  lines: number;
  virtual: string | null;
  real: string | null;
  since: string | null;
  json: boolean;
}

export type Action =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'usage'; message: string | null }
  | { kind: 'check'; config: string; opts: GlobalOptions }
  | { kind: 'dry-run'; config: string; opts: GlobalOptions }
  | { kind: 'daemon'; command: DaemonCommand; config: string; cfgname: string; opts: GlobalOptions; argv: string[] }
  | { kind: 'show'; config: string; cfgname: string; opts: GlobalOptions }
  | { kind: 'logs'; config: string; cfgname: string; opts: GlobalOptions; logs: LogsOptions }
  | { kind: 'drain'; undo: boolean; config: string; cfgname: string; opts: GlobalOptions; drain: DrainOptions };

/** `drain REAL [--virtual V] [--timeout S]`, `undrain REAL [--virtual V]`. */
export interface DrainOptions {
  real: string;
  virtual: string | null;
  /** Seconds; null: the daemon's default. */
  timeout: number | null;
}

/** Perl: a bare CONFIG name is ldirectord.cf / "ldirectord"; otherwise the basename. */
export function parseArgs(argv: string[]): Action {
  const opts: GlobalOptions = {
    debug: false,
    ipvsadm: null,
    json: false,
    dryRun: false,
    against: null,
    metrics: null,
    statusPage: false,
  };
  let check = false;
  let i = 0;
  // Leading options, bundling allowed for the single-letter flags (-dt).
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    const takeValue = (name: string): string | Action => {
      const eq = a.indexOf('=');
      if (eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) return { kind: 'usage', message: `Option ${name} requires an argument` };
      return v;
    };
    if (a.startsWith('--')) {
      const name = a.split('=')[0];
      switch (name) {
        case '--debug':
          opts.debug = true;
          break;
        case '--help':
          return { kind: 'help' };
        case '--version':
          return { kind: 'version' };
        case '--check':
          check = true;
          break;
        case '--json':
          opts.json = true;
          break;
        case '--dry-run':
          opts.dryRun = true;
          break;
        case '--ipvsadm': {
          const v = takeValue(name);
          if (typeof v !== 'string') return v;
          opts.ipvsadm = v;
          break;
        }
        case '--against': {
          const v = takeValue(name);
          if (typeof v !== 'string') return v;
          opts.against = v;
          break;
        }
        case '--status-page':
          opts.statusPage = true;
          break;
        case '--metrics': {
          const v = takeValue(name);
          if (typeof v !== 'string') return v;
          opts.metrics = v;
          break;
        }
        default:
          return { kind: 'usage', message: `Unknown option: ${a.slice(2)}` };
      }
      continue;
    }
    for (const c of a.slice(1)) {
      switch (c) {
        case 'd':
          opts.debug = true;
          break;
        case 't':
          check = true;
          break;
        case 'h':
        case '?':
          return { kind: 'help' };
        case 'v':
          return { kind: 'version' };
        default:
          return { kind: 'usage', message: `Unknown option: ${c}` };
      }
    }
  }
  const pos = argv.slice(i);

  if (check || (opts.dryRun && !pos.some((p) => p === 'start'))) {
    if (pos.length !== 1)
      return { kind: 'usage', message: `${check ? '--check' : '--dry-run'} takes exactly one CONFIG` };
    return { kind: check ? 'check' : 'dry-run', config: pos[0]!, opts };
  }
  if (pos.length === 0) return { kind: 'usage', message: null };

  // [CONFIG] COMMAND [command options], read as the original reads it: with two or more
  // words, the first is CONFIG and the second COMMAND, whatever they say (`start my.cf` is a
  // usage error, `start stop` looks for a config named "start"); further words are ignored.
  // Words are what comes before the first command option (`status -v`, `logs -n 5`).
  const isCommand = (s: string | undefined) =>
    s !== undefined &&
    ((DAEMON_COMMANDS as readonly string[]).includes(s) || ['show', 'logs', 'drain', 'undrain'].includes(s));
  let words = pos.findIndex((p) => p.startsWith('-') && p !== '-');
  if (words < 0) words = pos.length;
  if (words === 0) return { kind: 'usage', message: null };
  const explicit = words >= 2;
  const config = explicit ? pos[0]! : 'ldirectord.cf';
  const command = explicit ? pos[1]! : pos[0]!;
  const rest = pos.slice(explicit ? 2 : 1);
  const cfgname = cfgName(config, explicit);
  if (!isCommand(command)) return { kind: 'usage', message: null };

  if (command === 'logs') {
    const logs: LogsOptions = {
      all: false,
      follow: false,
      lines: 10,
      virtual: null,
      real: null,
      since: null,
      json: opts.json,
    };
    for (let j = 0; j < rest.length; j++) {
      const a = rest[j]!;
      const val = () => rest[++j];
      if (a === '-f' || a === '--follow') logs.follow = true;
      else if (a === '--all') logs.all = true;
      else if (a === '--json') logs.json = true;
      else if (a === '-n' || a === '--lines') {
        const n = Number(val());
        if (!Number.isInteger(n) || n < 0) return { kind: 'usage', message: `${a} needs a number of lines` };
        logs.lines = n;
      } else if (/^-n\d+$/.test(a)) logs.lines = Number(a.slice(2));
      else if (a === '--virtual') logs.virtual = val() ?? null;
      else if (a === '--real') logs.real = val() ?? null;
      else if (a === '--since') logs.since = val() ?? null;
      else return { kind: 'usage', message: `Unknown option for logs: ${a}` };
      if ((a === '--virtual' || a === '--real' || a === '--since') && rest[j] === undefined) {
        return { kind: 'usage', message: `${a} needs a value` };
      }
    }
    return { kind: 'logs', config, cfgname, opts, logs };
  }
  if (command === 'drain' || command === 'undrain') return drainAction(command, config, cfgname, opts, rest);
  if (command === 'show' || (command === 'status' && rest.some((a) => a === '-v' || a === '--verbose'))) {
    if (rest.includes('--json')) opts.json = true;
    return { kind: 'show', config, cfgname, opts };
  }
  // Like Perl, extra positional arguments after the command are ignored.
  return { kind: 'daemon', command: command as DaemonCommand, config, cfgname, opts, argv };
}

/** The words after `CONFIG drain|undrain`: the real first, then its options in any order. */
function drainAction(
  command: 'drain' | 'undrain',
  config: string,
  cfgname: string,
  opts: GlobalOptions,
  rest: string[],
): Action {
  const drain: DrainOptions = { real: '', virtual: null, timeout: null };
  for (let j = 0; j < rest.length; j++) {
    const a = rest[j]!;
    if (a === '--virtual' || a === '--timeout') {
      const v = rest[++j];
      if (v === undefined) return { kind: 'usage', message: `${a} needs a value` };
      if (a === '--virtual') drain.virtual = v;
      else if (command === 'undrain') return { kind: 'usage', message: 'undrain takes no --timeout' };
      else if (!/^\d{1,6}$/.test(v)) return { kind: 'usage', message: `--timeout needs a number of seconds` };
      else drain.timeout = Number(v);
    } else if (a === '--json') opts.json = true;
    else if (a.startsWith('-')) return { kind: 'usage', message: `Unknown option for ${command}: ${a}` };
    else if (drain.real) return { kind: 'usage', message: `${command} takes one real server` };
    else drain.real = a;
  }
  if (!drain.real) return { kind: 'usage', message: `${command} needs a real server (IP or IP:PORT)` };
  return { kind: 'drain', undo: command === 'undrain', config, cfgname, opts, drain };
}
