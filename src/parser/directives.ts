/**
 * Every directive of ldirectord.cf, declared once: where it may stand (the top level, a
 * virtual block, or both), how its value is cut out of the line and read (with the
 * original's error text), its default, whether a virtual inherits the global value, and
 * whether it is a secret. The reader (read-config.ts) and the defaults/inheritance step
 * read this table; the model's types (GlobalConfig, VirtualService) are derived from it,
 * and so are `--check --json` and the list of secrets the redactor hides.
 *
 * A directive added here is parsed, inherited, typed, dumped and (when secret) hidden with
 * no other change; what it means is its feature's own module.
 *
 * The order is the Perl daemon's (read_config tests its regexes in this order), though
 * no line can match two of them. A few directives are finished by hand (`special`): the
 * mutual timeout defaults, the effective checkinterval and fallback, the endpoint and the
 * reals (read-config.ts, fallback.ts, reals.ts).
 */
import { chomp } from '../perl/strings';
import { SERVICE_ERROR, SERVICE_NAMES } from './services';
import {
  MAX_SECONDS,
  P,
  asWritten,
  digits,
  emailalert,
  emailalertstatus,
  firstRun,
  nonEmpty,
  positive,
  refused,
  smtpHost,
  whole,
  yesNo,
  type Form,
  type LineContext,
  type Reader,
} from './values';
import { parseFallback, resolveFallback, type RawFallback } from './fallback';
import { DAEMON_STATUS_ALL, type CheckType } from './model';
import { parseSyncDaemon, type SyncDaemonConfig } from './sync-daemon';

export interface Directive<T> {
  /** How the value is cut out of the line; per scope where the original differs (fallbackcommand). */
  readonly form: Form | { readonly global: Form; readonly virtual: Form };
  /** Readers per scope; a directive without one for a scope is an unknown command there. */
  readonly global?: Reader<T>;
  readonly virtual?: Reader<T>;
  /** The value when the directive is absent (at the top level, or in a virtual that does not inherit). */
  readonly default?: T;
  /** A virtual without the directive takes the global value. */
  readonly inherit?: true;
  /** Repeated lines: every value is kept (real=), once each (execute=); the value is then a list. */
  readonly repeat?: 'append' | 'appendUnique';
  /** Its value never reaches a log, a status, a dump or an e-mail. */
  readonly secret?: true;
  /** Finished by hand, not copied into the model as it is. */
  readonly special?: true;
  /** Not in the original's language (README "Additions"). */
  readonly addition?: true;
}

/** Ping attempts per check (each waits its share of checktimeout). */
/** Where the daemon logs when the config does not say (logfile=). */
export const DEFAULT_LOGFILE = '/var/log/ldirectord.log';
const MAX_CHECKCOUNT = 100;
const MAX_FAILURECOUNT = 1_000_000;
/** A slow start of at most a day; a quorum (a sum of weights) within what a kernel weight sum can be. */
const MAX_SLOWSTART = 86_400;
const MAX_QUORUM = 2_147_483_647;
/** ipvsadm's persistence timeout: at most 31 days. */
const MAX_PERSISTENT = 2_678_400;

/** A table entry; its value type is inferred from its readers (and its default). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const d = <const S extends Directive<any>>(spec: S): S => spec;

const CHECKTYPES: readonly CheckType[] = ['connect', 'negotiate', 'ping', 'off', 'on', 'external', 'external-perl'];
const RE = {
  digits: P`(\d+)`,
  wordDash: P`([\w-]+)`,
  word: P`(\w+)`,
  netmask6: P`^\d+$`,
  netmask4: P`^\d+\.\d+\.\d+\.\d+$`,
  vhost: P`\"?([^\"]*)\"?`,
  leadingSlash: P`^\/`,
  supervised: P`^\s*=\s*(.*)`,
  bare: P`^\s*$`,
};

/** A `real=` line's text after the `=`, and its line number (resolved when its block ends). */
export type RealLine = readonly [text: string, line: number];

/** The value of `checktype=`: a kind, or N connect checks between negotiate checks. */
export interface CheckTypeValue {
  type: CheckType;
  every: number | null;
}

export const DIRECTIVES = {
  real: d({ form: 'plain', special: true, repeat: 'append', virtual: realLine(4) }),
  real6: d({ form: 'plain', special: true, repeat: 'append', virtual: realLine(6) }),
  request: d({
    form: 'quoted',
    default: '/',
    virtual: (v, ctx): string => {
      const req = nonEmpty('no request string specified')(v, ctx);
      return RE.leadingSlash.test(req) ? req : '/' + req;
    },
  }),
  receive: d({ form: 'quoted', default: '', virtual: nonEmpty('invalid receive string') }),
  checktype: d({
    form: 'plain',
    special: true,
    virtual: (v, ctx): CheckTypeValue => {
      const n = RE.digits.exec(v);
      if (n) return { type: 'combined', every: Number(n[1]) };
      const w = RE.wordDash.exec(v);
      if (w && CHECKTYPES.includes(w[1] as CheckType)) return { type: w[1] as CheckType, every: null };
      return ctx.err(
        'checktype must be "connect", "negotiate", "on", "off", "ping", "external", "external-perl" or a positive number',
      );
    },
  }),
  checkcommand: d({ form: 'either', default: '/bin/true', virtual: nonEmpty('invalid check command') }),
  checktimeout: d({
    form: 'plain',
    special: true,
    global: positive('invalid check timeout value', { nonzero: true, max: MAX_SECONDS }),
    virtual: positive('invalid check timeout', { max: MAX_SECONDS }),
  }),
  connecttimeout: d({
    form: 'plain',
    special: true,
    global: refused('connecttimeout directive deprecated in favour of negotiatetimeout'),
    virtual: refused('connecttimeout directive deprecated in favour of negotiatetimeout'),
  }),
  negotiatetimeout: d({
    form: 'plain',
    special: true,
    global: positive('invalid negotiate timeout value', { nonzero: true, max: MAX_SECONDS }),
    virtual: positive('invalid negotiate timeout', { max: MAX_SECONDS }),
  }),
  checkcount: d({
    form: 'plain',
    default: 1,
    inherit: true,
    global: (v, ctx) => deprecatedCount(positive('invalid check count value', { max: MAX_CHECKCOUNT })(v, ctx), ctx),
    virtual: (v, ctx) => deprecatedCount(positive('invalid check count', { max: MAX_CHECKCOUNT })(v, ctx), ctx),
  }),
  failurecount: d({
    form: 'plain',
    default: 1,
    inherit: true,
    global: positive('invalid failure count value', { max: MAX_FAILURECOUNT }),
    virtual: positive('invalid failure count', { max: MAX_FAILURECOUNT }),
  }),
  checkinterval: d({
    form: 'plain',
    default: 10,
    special: true,
    global: positive('invalid check interval value', { max: MAX_SECONDS }),
    virtual: positive('invalid checkinterval', { max: MAX_SECONDS }),
  }),
  checkport: d({
    form: 'plain',
    default: null,
    virtual: (v, ctx): number => {
      const port = digits('invalid port')(v, ctx);
      if (!(port > 0 && port < 65536)) ctx.err('checkport must be in range 1..65536');
      return port;
    },
  }),
  login: d({ form: 'quoted', default: '', secret: true, virtual: nonEmpty('invalid login string') }),
  passwd: d({ form: 'quoted', default: '', secret: true, virtual: nonEmpty('invalid password') }),
  database: d({ form: 'quoted', default: '', virtual: nonEmpty('invalid database') }),
  secret: d({ form: 'quoted', default: '', secret: true, virtual: nonEmpty('invalid secret') }),
  /** Parsed and never used by the Perl daemon. */
  load: d({
    form: 'quoted',
    special: true,
    virtual: (v, ctx): string => (RE.word.test(v) ? v : ctx.err('invalid string for load testing')),
  }),
  // Any [a-z]+ is accepted (ipvsadm rejects unknown schedulers), as the Perl daemon does.
  scheduler: d({
    form: 'plain',
    default: 'wrr',
    virtual: firstRun('lower', 'invalid scheduler, should be only lowercase letters (a-z)'),
  }),
  persistent: d({
    form: 'plain',
    default: null,
    // ipvsadm takes 1 to 31 days; the original passed 0 on and ipvsadm refused it.
    virtual: (v, ctx): number => {
      const n = digits('invalid persistent timeout', MAX_PERSISTENT)(v, ctx);
      return n > 0 ? n : ctx.err('invalid persistent timeout: at least 1');
    },
  }),
  schedflags: d({ form: 'plain', default: null, virtual: firstRun('nonSpace', 'invalid sched-flags') }),
  netmask: d({
    form: 'plain',
    default: null,
    virtual: (v, ctx): string => {
      if (ctx.af === 6) {
        if (!RE.netmask6.test(v) || Number(v) < 1 || Number(v) > 128) {
          ctx.err('invalid netmask: a prefix length between 1 and 128 is required');
        }
      } else if (!RE.netmask4.test(v)) ctx.err('invalid netmask: dotted quad notation is required');
      return v;
    },
  }),
  protocol: d({
    form: 'plain',
    special: true,
    virtual: (v, ctx): 'tcp' | 'udp' | 'fwm' => {
      const w = RE.word.exec(v);
      if (!w) return ctx.err('invalid protocol');
      if (ctx.get('protocol') === 'fwm') {
        if (w[1] !== 'fwm') ctx.err('protocol must be fwm if the virtual service is a fwmark (a number)');
        return 'fwm';
      }
      if (w[1] === 'tcp' || w[1] === 'udp') return w[1];
      return ctx.err('protocol must be tcp or udp if the virtual service is an address and port');
    },
  }),
  ops: d({ form: 'plain', default: false, virtual: yesNo("ops must be 'yes' or 'no'") }),
  service: d({
    form: 'plain',
    special: true,
    virtual: (v, ctx): string => {
      const w = RE.word.exec(v);
      if (!w || !SERVICE_NAMES.has(w[1]!)) return ctx.err(SERVICE_ERROR);
      const service = w[1]!;
      // Perl applies these defaults here, only when login/passwd are still empty.
      const host = ctx.machine.hostname;
      if (service === 'ftp' && !ctx.get('login')) ctx.set('login', 'anonymous');
      else if (service === 'sip' && !ctx.get('login')) ctx.set('login', `ldirectord@${host}`);
      if (service === 'ftp' && !ctx.get('passwd')) ctx.set('passwd', `ldirectord@${host}`);
      return service;
    },
  }),
  httpmethod: d({
    form: 'plain',
    default: 'GET',
    virtual: (v, ctx): 'GET' | 'HEAD' => {
      const method = RE.word.exec(v)?.[1]!.toUpperCase();
      if (method !== 'GET' && method !== 'HEAD') ctx.err('httpmethod must be GET or HEAD');
      return method as 'GET' | 'HEAD';
    },
  }),
  virtualhost: d({ form: 'plain', default: null, virtual: (v): string => RE.vhost.exec(v)![1]! }),
  fallback: d({ form: 'plain', special: true, global: globalFallback(4), virtual: virtualFallback(4) }),
  fallback6: d({ form: 'plain', special: true, global: globalFallback(6), virtual: virtualFallback(6) }),
  fallbackcommand: d({
    // The global line takes the rest of the line as is: quotes become part of the command.
    form: { global: 'plain', virtual: 'either' },
    default: null,
    inherit: true,
    global: nonEmpty('invalid fallback command'),
    virtual: nonEmpty('invalid fallback command'),
  }),
  autoreload: d({ form: 'plain', default: false, global: yesNo("autoreload must be 'yes' or 'no'") }),
  callback: d({ form: 'quoted', default: null, global: asWritten }),
  logfile: d({
    form: 'quoted',
    default: DEFAULT_LOGFILE,
    global: (path, ctx): string => {
      const m = ctx.machine;
      // Perl opens a log file once as a test, except under -d or supervised=yes. A path
      // the daemon refuses to write to (a symlink, a FIFO) does not stop it: it logs to
      // syslog and stderr, and says why, until the path is a file.
      if (m.checkFiles && !m.debug && !ctx.get('supervised') && path.startsWith('/')) {
        const e = m.files.tryAppend(path);
        if (e?.unsafe) ctx.warn(`logfile ${path} is not written: ${e.text}; logging to syslog and stderr`);
        else if (e) ctx.err(`unable to open logfile: ${path}`);
      }
      return path;
    },
  }),
  execute: d({ form: 'plain', repeat: 'appendUnique', global: asWritten }),
  fork: d({ form: 'plain', default: false, global: yesNo("fork must be 'yes' or 'no'") }),
  supervised: d({
    form: 'bare',
    default: false,
    global: (rest, ctx): boolean => {
      const s = RE.supervised.exec(rest);
      if (s && (s[1] === 'yes' || s[1] === 'no')) return s[1] === 'yes';
      if (!RE.bare.test(chomp(rest))) ctx.err("supervised must be 'yes' or 'no'");
      ctx.warn('please update your config not to use a bare supervised directive');
      return true;
    },
  }),
  quiescent: d({
    form: 'plain',
    default: false,
    inherit: true,
    global: yesNo("quiescent must be 'yes' or 'no'"),
    virtual: yesNo("quiescent must be 'yes' or 'no'"),
  }),
  readdquiescent: d({
    form: 'plain',
    default: false,
    global: yesNo("readdquiescent must be 'yes' or 'no'"),
  }),
  emailalert: d({ form: 'plain', default: null, inherit: true, global: emailalert, virtual: emailalert }),
  emailalertfreq: d({
    form: 'digits',
    default: 0,
    inherit: true,
    global: digits('invalid email alert frequency', MAX_SECONDS),
    virtual: digits('invalid email alert frequency', MAX_SECONDS),
  }),
  emailalertstatus: d({
    form: 'plain',
    default: DAEMON_STATUS_ALL,
    inherit: true,
    global: emailalertstatus,
    virtual: emailalertstatus,
  }),
  emailalertfrom: d({
    form: 'plain',
    default: null,
    global: nonEmpty('no email from address specified'),
  }),
  monitorfile: d({
    form: 'either',
    default: null,
    virtual: (f, ctx): string => {
      const e = ctx.machine.checkFiles ? ctx.machine.files.tryAppend(f) : null;
      if (e?.unsafe) ctx.warn(`monitorfile ${f} is not written: ${e.text}`);
      else if (e) ctx.err(`unable to open monitorfile ${f}: ${e.text}`);
      return f;
    },
  }),
  cleanstop: d({
    form: 'plain',
    default: true,
    inherit: true,
    global: yesNo("cleanstop must be 'yes' or 'no'"),
    virtual: yesNo("cleanstop must be 'yes' or 'no'"),
  }),
  smtp: d({ form: 'plain', default: null, inherit: true, global: smtpHost, virtual: smtpHost }),
  maintenancedir: d({
    form: 'plain',
    default: null,
    global: (v, ctx): string => {
      const dir = nonEmpty('maintenance directory not specified')(v, ctx);
      if (!ctx.machine.files.isDirectory(dir)) ctx.warn('maintenance directory does not exist');
      return dir;
    },
  }),
  servicename: d({ form: 'plain', default: null, virtual: asWritten }),
  comment: d({ form: 'plain', default: null, virtual: asWritten }),
  timeout: d({
    form: 'plain',
    special: true,
    global: refused('timeout directive deprecated in favour of checktimeout and negotiatetimeout'),
  }),
  // Pool policy, this daemon's additions (README "Pool policy"); each off by its default.
  successcount: addition(1, whole('successcount', 1, MAX_FAILURECOUNT)),
  failinginterval: addition(null, whole('failinginterval', 1, MAX_SECONDS)),
  downinterval: addition(null, whole('downinterval', 1, MAX_SECONDS)),
  slowstart: addition(0, whole('slowstart', 0, MAX_SLOWSTART)),
  panicthreshold: addition(0, whole('panicthreshold', 0, 100)),
  quorum: addition(0, whole('quorum', 0, MAX_QUORUM)),
  hysteresis: addition(0, whole('hysteresis', 0, MAX_QUORUM)),
  quorumup: addition(null, nonEmpty('invalid quorumup command'), 'either'),
  quorumdown: addition(null, nonEmpty('invalid quorumdown command'), 'either'),
  // The IPVS connection sync daemon (reconcile/sync-daemon.ts), global only.
  syncdaemon: d({
    form: 'plain',
    default: null,
    addition: true,
    global: (v, ctx): SyncDaemonConfig => {
      const r = parseSyncDaemon(chomp(v));
      return typeof r === 'string' ? ctx.err(r) : r;
    },
  }),
};

/** An addition: the same reader at the top level and in a virtual, inherited, off by `def`. */
function addition<T, D extends T | null>(def: D, read: Reader<T>, form: Form = 'plain') {
  return d({ form, default: def, inherit: true, addition: true, global: read, virtual: read });
}

/** `real=` in a virtual block, `real6=` in a virtual6 block; kept as written until the block ends. */
function realLine(af: 4 | 6): Reader<RealLine> {
  return (text, ctx) => {
    if (ctx.af !== af)
      ctx.err(`cannot specify "${ctx.name}" here.  please use "real${ctx.af === 4 ? '' : '6'}" instead`);
    return [text, ctx.line] as const;
  };
}

/** A global fallback is resolved at its line, once per protocol (Perl's $FALLBACK->{tcp|udp}). */
function globalFallback(af: 4 | 6): Reader<RawFallback> {
  return async (text, ctx) => {
    const raw = parseFallback(text, ctx, undefined);
    const tcp = await resolveFallback(raw, 'tcp', af, ctx.lookups);
    return { ...tcp, udp: await resolveFallback(raw, 'udp', af, ctx.lookups) };
  };
}

/** A virtual's fallback takes the virtual's port by default; it is resolved when the block ends. */
function virtualFallback(af: 4 | 6): Reader<RawFallback> {
  return (text, ctx) => {
    if (ctx.af !== af) {
      ctx.err(`cannot specify "${ctx.name}" here.  please use "fallback${ctx.af === 4 ? '' : '6'}" instead`);
    }
    return parseFallback(text, ctx, ctx.get('port') as string);
  };
}

function deprecatedCount(n: number, ctx: LineContext): number {
  ctx.warn("checkcount option is deprecated and slated for removal.  please see 'failurecount'");
  return n;
}

export type DirectiveName = keyof typeof DIRECTIVES;
type Table = typeof DIRECTIVES;
type ReadValue<D> = D extends { virtual: (...a: never[]) => infer R }
  ? Awaited<R>
  : D extends { global: (...a: never[]) => infer R }
    ? Awaited<R>
    : never;
type DefaultOf<D> = D extends { default: infer V } ? V : never;
/** A directive's value in the model: what its reader returns, or its default; a list for repeated ones. */
type ValueOf<D> = D extends { repeat: string } ? readonly ReadValue<D>[] : ReadValue<D> | DefaultOf<D>;

/** Directives copied into the model as they are, for a scope (the rest are `special`). */
type Plain<S extends 'global' | 'virtual'> = {
  [K in DirectiveName]: Table[K] extends { special: true } ? never : Table[K] extends Record<S, unknown> ? K : never;
}[DirectiveName];

/** The global values taken from the table: every plain directive of the top level. */
export type GlobalSettings = { readonly [K in Plain<'global'>]: ValueOf<Table[K]> };
/** The per-virtual values taken from the table (own, else inherited, else the default). */
export type VirtualSettings = { readonly [K in Plain<'virtual'>]: ValueOf<Table[K]> };

/** Every directive as a uniform record, for the generic steps (reading, finishing, dumping). */
export const DIRECTIVE_LIST: ReadonlyArray<readonly [DirectiveName, Directive<unknown>]> = Object.entries(
  DIRECTIVES,
) as never;

/** Names of the secret directives (their values are hidden everywhere). */
export const SECRET_DIRECTIVES: readonly DirectiveName[] = DIRECTIVE_LIST.filter(([, x]) => x.secret).map(([k]) => k);
