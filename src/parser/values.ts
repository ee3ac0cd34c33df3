/**
 * How a directive's value is read: the line grammar (Perl's regexes, translated) and the
 * value readers, each one Perl idiom with the original's error text. Pure.
 *
 * Text here is a byte string (latin1, one char per byte), as Perl reads the file: the
 * readers see exactly the bytes Perl's regexes saw.
 */
import { perlRegex } from '../perl/regex';
import { perlTrue } from '../perl/strings';
import type { Lookups } from './fallback';
import { DAEMON_STATUS, DAEMON_STATUS_ALL } from './model';

/** Perl regex, compiled once. `String.raw` keeps the backslashes exactly as in the Perl source. */
export const P = (s: TemplateStringsArray) => perlRegex(String.raw(s));

/** The scope a line is read in: the top level, or the indented body of a `virtual=` block. */
export type Scope = 'global' | 'virtual';

/**
 * How the value is cut out of a directive's line (Perl's regexes):
 *   plain   `^name\s*=\s*(.*)`
 *   quoted  `^name\s*=\s*"(.*)"` (quotes required; the match is greedy)
 *   either  quoted if it is, else plain (quotes optional, stripped)
 *   digits  `^name\s*=\s*(\d*)` (emailalertfreq)
 *   bare    `^name` and the rest of the line, for a directive that reads its own shape
 */
export type Form = 'plain' | 'quoted' | 'either' | 'digits' | 'bare';

/** A directive line's regexes for a form: group 1 is the name, group 2 the value. */
export function lineRegexes(name: string, form: Form): RegExp[] {
  const head = `^(${name})`;
  const q = perlRegex(`${head}\\s*=\\s*\\"(.*)\\"`);
  const plain = perlRegex(`${head}\\s*=\\s*(.*)`);
  switch (form) {
    case 'plain':
      return [plain];
    case 'quoted':
      return [q];
    case 'either':
      return [q, plain];
    case 'digits':
      return [perlRegex(`${head}\\s*=\\s*(\\d*)`)];
    case 'bare':
      return [perlRegex(`${head}(.*)`)];
  }
}

/** What a value reader may ask while it reads one line. */
export interface LineContext {
  readonly line: number;
  readonly scope: Scope;
  /** The directive's name as written on the line (`real6`, `fallback6`). */
  readonly name: string;
  /** The address family of the virtual being read (4 at the top level). */
  readonly af: 4 | 6;
  /** Stops the parse with the original's message at this line. */
  err(msg: string): never;
  warn(msg: string): void;
  /** A value read earlier in the same scope (service= fills login only while it is empty). */
  get(name: string): unknown;
  /** Set another directive's value in this scope (service='s login default). */
  set(name: string, value: unknown): void;
  /** What the readers that look at the machine need (ParseOptions). */
  readonly machine: MachineContext;
  /** Name and port resolution, for the global fallback resolved at its line. */
  readonly lookups: Lookups;
}

/** The parse options the readers that look at the machine use (read-config.ts ParseOptions). */
export interface MachineContext {
  readonly files: FileProbe;
  /** Open the log and monitor files as a test, as the original at start (`--check` does not). */
  readonly checkFiles: boolean;
  readonly debug: boolean;
  /** $HOSTNAME for the ftp/sip login defaults. */
  readonly hostname: string;
}

/** The filesystem questions the parser asks, injectable for tests. */
export interface FileProbe {
  isDirectory(path: string): boolean;
  /**
   * Open for append and close, as Perl's `open(F, ">>$f") and close(F)`. Null when it can be
   * written; else why not, `unsafe` when the path is a symlink, FIFO, device or directory
   * the daemon refuses to write to (rather than a file it cannot open).
   */
  tryAppend(path: string): { unsafe: boolean; text: string } | null;
}

export type Reader<T> = (value: string, ctx: LineContext) => T | Promise<T>;

const RE = {
  digits: P`(\d+)`,
  any: P`(.+)`,
  word: P`(\w+)`,
  wordDash: P`([\w-]+)`,
  lower: P`([a-z]+)`,
  nonSpace: P`(\S+)`,
  smtpHost: P`(^([0-9A-Za-z._+-]+))`,
  emailQuoted: P`^\"([^"]*)\"$`,
  statusSep: P`\s*,\s*`,
};

/** The first capture of `re` in the value (unanchored), if `ok` with it; else the original's error. */
/** A reader that answers at once (most do; the global fallback resolves names). */
type SyncReader<T> = (value: string, ctx: LineContext) => T;

const capture =
  (re: RegExp, msg: string, ok: (s: string) => boolean = () => true): SyncReader<string> =>
  (val, ctx) => {
    const m = re.exec(val);
    return m && ok(m[1]!) ? m[1]! : ctx.err(msg);
  };

const asNumber =
  (read: SyncReader<string>): SyncReader<number> =>
  (val, ctx) =>
    Number(read(val, ctx));

/**
 * A number no larger than `max`: a value past what ipvsadm, the kernel or a timer takes
 * is refused at its line rather than failing at every reconcile (`1e+22` as a weight).
 */
const atMost =
  (read: SyncReader<number>, max: number | undefined, msg: string): SyncReader<number> =>
  (val, ctx) => {
    const n = read(val, ctx);
    return max === undefined || n <= max ? n : ctx.err(`${msg}: at most ${max}`);
  };

/** Seconds a timer can wait (Node's timers take up to 2^31-1 ms). */
export const MAX_SECONDS = 2_147_483;

/**
 * `$1 =~ /(\d+)/ && $1 or config_error`: digits anywhere, Perl-true (not "0"); `nonzero` also
 * refuses "00"; `max` bounds it.
 */
export const positive = (msg: string, opts: { nonzero?: boolean; max?: number } = {}): SyncReader<number> =>
  atMost(asNumber(capture(RE.digits, msg, (d) => perlTrue(d) && (!opts.nonzero || Number(d) > 0))), opts.max, msg);

/** `$1 =~ /(\d+)/ or config_error`, at most `max`. */
export const digits = (msg: string, max?: number): SyncReader<number> =>
  atMost(asNumber(capture(RE.digits, msg)), max, msg);

/**
 * A whole number from `min` to `max`, written as digits only: the readers of this daemon's
 * additions, which have no Perl laxness to keep (`5s` is an error, not 5).
 */
export const whole =
  (name: string, min: number, max: number): SyncReader<number> =>
  (val, ctx) => {
    const n = /^\d{1,16}$/.test(val) ? Number(val) : NaN;
    if (!(n >= min && n <= max)) ctx.err(`${name} must be a whole number from ${min} to ${max}`);
    return n;
  };

/** `$1 =~ /(.+)/ or config_error`. */
export const nonEmpty = (msg: string): SyncReader<string> => capture(RE.any, msg);

/** `($1 eq "yes" || $1 eq "no") or config_error`: exact, so trailing blanks are errors. */
export const yesNo =
  (msg: string): Reader<boolean> =>
  (val, ctx) => {
    if (val !== 'yes' && val !== 'no') ctx.err(msg);
    return val === 'yes';
  };

/** The first run of `re` in the value (unanchored), else the error. */
export const firstRun = (re: 'word' | 'wordDash' | 'lower' | 'nonSpace', msg: string): Reader<string> =>
  capture(RE[re], msg);

/** The value as written (the rest of the line). */
export const asWritten: Reader<string> = (val) => val;

/** An smtp= host: `^([0-9A-Za-z._+-]+)`, no port. */
export const smtpHost: SyncReader<string> = capture(RE.smtpHost, 'invalid SMTP server address');

/** Perl read_emailalert: strip enclosing quotes, then require something. */
export const emailalert: SyncReader<string> = (val, ctx) => {
  const q = RE.emailQuoted.exec(val);
  return nonEmpty('no email address specified')(q ? q[1]! : val, ctx);
};

/** Perl parse_emailalertstatus: a comma list folded into the daemon-status bitmask. */
export const emailalertstatus: Reader<number> = (arg, ctx) => {
  const parts = arg.split(RE.statusSep);
  while (parts.length && parts[parts.length - 1] === '') parts.pop(); // Perl split drops trailing empties
  const none = parts.includes('none');
  let status = 0;
  for (const p of parts) {
    if (p === 'none') continue;
    if (p === 'all') status = DAEMON_STATUS_ALL;
    else if (p in DAEMON_STATUS) status |= DAEMON_STATUS[p as keyof typeof DAEMON_STATUS];
    else ctx.err(`invalid email alert status at: "${p}"`);
    if (none) ctx.err(`invalid email alert status: "${p}" specified with "none"`);
  }
  return status;
};

/** A directive that is always an error (deprecated), with the original's message. */
export const refused =
  (msg: string): Reader<never> =>
  (_val, ctx) =>
    ctx.err(msg);
