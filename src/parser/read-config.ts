/**
 * ldirectord.cf → Config, exactly as the Perl daemon's read_config + ld_setup read it.
 *
 * The Perl parser is a loop of regexes over raw lines; its quirks are the contract
 * (a blank line ends a virtual block, inline `#` is stripped only inside blocks, quotes are
 * required for some directives and not others, real= lines are resolved only when the block
 * ends, …). To keep that contract honest every grammar regex below is the Perl one, copied
 * character for character and translated by perlRegex(), and the control flow follows
 * read_config line by line (the `goto outer_loop` becomes `pending`).
 *
 * Deliberate fixes of Perl parser bugs (README "Differences from Perl ldirectord"):
 *   W-3  a per-real "request", "receive" whose request starts with '/' keeps its receive
 *        string and the rest of the line (Perl lost both);
 *   W-12 real=a->b ranges compare addresses as numbers (Perl compared strings and added
 *        nothing when the digit count changed);
 *   W-4  a global fallback applies to fwmark virtuals (Perl produced `-r :0`).
 */
import { statSync, openSync, closeSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { perlRegex, fromByteString } from '../perl/regex';
import type { Resolver } from './resolve';
import { validateForChecks } from './validate';
import {
  ConfigError,
  DAEMON_STATUS,
  DAEMON_STATUS_ALL,
  SERVICES,
  serviceForPort,
  virtualId,
  type CheckType,
  type Config,
  type ConfigWarning,
  type FallbackServer,
  type Forward,
  type GlobalConfig,
  type Protocol,
  type RealServer,
  type Service,
  type VirtualService,
} from './model';

/** Perl regex, compiled once. `String.raw` keeps the backslashes exactly as in the Perl source. */
const P = (s: TemplateStringsArray) => perlRegex(String.raw(s));

// --- the grammar (Perl read_config, in the order it tests them) -------------------------
const RE = {
  virtual: P`^virtual(6)?\s*=\s*(.*)`,
  vIPv4: P`^(\d+\.\d+\.\d+\.\d+):([0-9A-Za-z-_]+)`,
  vHost: P`^([0-9A-Za-z._+-]+):([0-9A-Za-z-_]+)`,
  vFwmark: P`^(\d+)`,
  vIPv6: P`^\[([0-9A-Fa-f:]+)\]:([0-9A-Za-z-_]+)`,
  udpPort: P`:(53|domain)$`,
  comment: P`^\s*#`,
  blank: P`^\s*$`,
  indented: P`^ {4,}(.+)`,
  real: P`^(real(6)?)\s*=\s*(.*)`,
  request: P`^request\s*=\s*\"(.*)\"`,
  receive: P`^receive\s*=\s*\"(.*)\"`,
  checktype: P`^checktype\s*=\s*(.*)`,
  checkcommandQ: P`^checkcommand\s*=\s*\"(.*)\"`,
  checkcommand: P`^checkcommand\s*=\s*(.*)`,
  checktimeout: P`^checktimeout\s*=\s*(.*)`,
  connecttimeout: P`^connecttimeout\s*=\s*(.*)`,
  negotiatetimeout: P`^negotiatetimeout\s*=\s*(.*)`,
  checkcount: P`^checkcount\s*=\s*(.*)`,
  failurecount: P`^failurecount\s*=\s*(.*)`,
  checkinterval: P`^checkinterval\s*=\s*(.*)`,
  checkport: P`^checkport\s*=\s*(.*)`,
  login: P`^login\s*=\s*\"(.*)\"`,
  passwd: P`^passwd\s*=\s*\"(.*)\"`,
  database: P`^database\s*=\s*\"(.*)\"`,
  secret: P`^secret\s*=\s*\"(.*)\"`,
  load: P`^load\s*=\s*\"(.*)\"`,
  scheduler: P`^scheduler\s*=\s*(.*)`,
  persistent: P`^persistent\s*=\s*(.*)`,
  schedflags: P`^schedflags\s*=\s*(.*)`,
  netmask: P`^netmask\s*=\s*(.*)`,
  protocol: P`^protocol\s*=\s*(.*)`,
  ops: P`^ops\s*=\s*(.*)`,
  service: P`^service\s*=\s*(.*)`,
  httpmethod: P`^httpmethod\s*=\s*(.*)`,
  virtualhost: P`^virtualhost\s*=\s*(.*)`,
  fallback: P`^(fallback(6)?)\s*=\s*(.*)`,
  fallbackcommandQ: P`^fallbackcommand\s*=\s*\"(.*)\"`,
  fallbackcommand: P`^fallbackcommand\s*=\s*(.*)`,
  quiescent: P`^quiescent\s*=\s*(.*)`,
  emailalert: P`^emailalert\s*=\s*(.*)`,
  emailalertfreq: P`^emailalertfreq\s*=\s*(\d*)`,
  emailalertstatus: P`^emailalertstatus\s*=\s*(.*)`,
  monitorfileQ: P`^monitorfile\s*=\s*\"(.*)\"`,
  monitorfile: P`^monitorfile\s*=\s*(.*)`,
  cleanstop: P`^cleanstop\s*=\s*(.*)`,
  smtp: P`^smtp\s*=\s*(.*)`,
  servicename: P`^servicename\s*=\s*(.*)`,
  commentDirective: P`^comment\s*=\s*(.*)`,
  // global-only
  gFallback: P`^fallback(6)?\s*=\s*(.*)`,
  gAutoreload: P`^autoreload\s*=\s*(.*)`,
  gCallback: P`^callback\s*=\s*\"(.*)\"`,
  gLogfile: P`^logfile\s*=\s*\"(.*)\"`,
  gExecute: P`^execute\s*=\s*(.*)`,
  gFork: P`^fork\s*=\s*(.*)`,
  gSupervisedAny: P`^supervised`,
  gSupervised: P`^supervised\s*=\s*(.*)`,
  gSupervisedBare: P`^supervised\s*$`,
  gReaddquiescent: P`^readdquiescent\s*=\s*(.*)`,
  gEmailalertfrom: P`^emailalertfrom\s*=\s*(.*)`,
  gMaintenancedir: P`^maintenancedir\s*=\s*(.*)`,
  gTimeout: P`^timeout\s*=\s*(.*)`,
  // value checks
  digits: P`(\d+)`,
  any: P`(.+)`,
  word: P`(\w+)`,
  wordDash: P`([\w-]+)`,
  lower: P`([a-z]+)`,
  nonSpace: P`(\S+)`,
  netmask6: P`^\d+$`,
  netmask4: P`^\d+\.\d+\.\d+\.\d+$`,
  vhost: P`\"?([^\"]*)\"?`,
  smtpHost: P`(^([0-9A-Za-z._+-]+))`,
  leadingSlash: P`^\/`,
  // real= (_ld_read_config_real_resolve, add_real_server)
  realLine: P`(\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-fa-f:]+\])(->(\d+\.\d+\.\d+\.\d+|[A-Za-z0-9.-]+|\[[0-9A-fa-f:]+\]))?(:(\d+|[A-Za-z0-9-_]+))?\s+(.*)`,
  realForward: P`(\w+)(.*)`,
  realWeight: P`\s+(\d+)(.*)`,
  realReqRecv: P`\s+\"(.*)\"[, ]\s*\"(.*)\"(.*)`,
  realLower: P`\s+l:(\d+)(.*)`,
  realUpper: P`\s+u:(\d+)(.*)`,
  nonBlank: P`\S`,
  // fallback (parse_fallback) and host:port (ld_gethostservbyname)
  fbSplit: P`(\S+)(\s+(\S+))?\s*$`,
  portSuffix: P`(:(\d+|[A-Za-z0-9-_]+))?$`,
  brackets: P`\[(.*)\]`,
  numeric: P`^[0-9]+$`,
  emailQuoted: P`^\"([^"]*)\"$`,
  statusSep: P`\s*,\s*`,
};

/**
 * An unknown line is quoted in its error message, as the original does; but a mistyped
 * passwd/secret/login line (`passwd=hunter2` without quotes) would put the secret in every
 * log and terminal that shows the error, so its value is masked.
 */
function maskSecret(line: string): string {
  return line.replace(/^(\s*(?:passwd|password|secret|login)\s*=\s*).+$/i, '$1***');
}

/** Perl truthiness of a string: everything but "" and "0". */
const truthy = (s: string | undefined): s is string => s !== undefined && s !== '' && s !== '0';
const yesNo = (s: string) => s === 'yes' || s === 'no';
/** Drop the line terminator Perl would print inside a message. */
const chomp = (s: string) => s.replace(/\r?\n$/, '');

export interface ParseOptions {
  resolver: Resolver;
  /** $HOSTNAME for the ftp/sip login defaults: $HOSTNAME, else uname -n. */
  hostname: string;
  /**
   * Check the files the daemon would open (logfile, monitorfile) the way the Perl daemon
   * does at start. `--check` checks the file, not the machine, so it passes false.
   */
  checkFiles: boolean;
  /**
   * Also reject what would only fail once checks run (bad receive regex, SQL check
   * without login/request). On by default; the Perl differential test turns it off to
   * compare the bare grammar.
   */
  validateChecks?: boolean;
  /** Whether the daemon runs with -d (Perl skips the logfile test then). */
  debug?: boolean;
  fs?: FileProbe;
}

/** The filesystem questions the parser asks, injectable for tests. */
export interface FileProbe {
  isDirectory(path: string): boolean;
  /** Open for append and close, as Perl's `open(F, ">>$f") and close(F)`. Returns an error text or null. */
  tryAppend(path: string): string | null;
}

export const realFileProbe: FileProbe = {
  isDirectory(path) {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  },
  tryAppend(path) {
    try {
      closeSync(openSync(path, 'a', 0o640));
      return null;
    } catch (e) {
      return errnoText(e);
    }
  },
};

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const texts: Record<string, string> = {
    ENOENT: 'No such file or directory',
    EACCES: 'Permission denied',
    EISDIR: 'Is a directory',
    ENOTDIR: 'Not a directory',
    EROFS: 'Read-only file system',
  };
  return (code && texts[code]) || (e as Error).message;
}

/** Read and parse CONFIG. Throws ConfigError (line 0 when the file cannot be read). */
export async function readConfigFile(file: string, opts: ParseOptions): Promise<Config> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    throw new ConfigError(file, 0, `can not open file ${file}`);
  }
  return parseConfig(bytes, file, opts);
}

// --- raw per-virtual state, as Perl's %vsrv holds it before ld_setup -------------------
interface RawFallback {
  server: string;
  port: string | undefined;
  forward: Forward;
}

interface RawVirtual {
  line: number;
  af: 4 | 6;
  ipPort: string | undefined;
  fwm: string | undefined;
  port: string;
  protocol: Protocol;
  checktype: CheckType;
  numConnects: number;
  service: Service | undefined;
  scheduler: string;
  checkcommand: string;
  request: string;
  receive: string;
  login: string;
  passwd: string;
  database: string;
  secret: string;
  httpmethod: 'GET' | 'HEAD';
  ops: boolean;
  checktimeout: number;
  negotiatetimeout: number;
  checkcount: number;
  failurecount: number;
  checkinterval: number | undefined;
  checkport: number | undefined;
  persistent: number | undefined;
  netmask: string | undefined;
  schedflags: string | undefined;
  virtualhost: string | undefined;
  fallback: RawFallback | undefined;
  fallbackLine: number;
  fallbackcommand: string | undefined;
  quiescent: boolean | undefined;
  cleanstop: boolean | undefined;
  emailalert: string | undefined;
  emailalertfreq: number | undefined;
  emailalertstatus: number | undefined;
  smtp: string | undefined;
  monitorfile: string | undefined;
  servicename: string | undefined;
  comment: string | undefined;
  /** Directive → line of its last occurrence, for errors found after parsing. */
  lines: Record<string, number>;
}

interface GlobalState {
  checktimeout: number;
  negotiatetimeout: number;
  checkinterval: number;
  checkcount: number;
  failurecount: number;
  fallbackcommand: string | null;
  autoreload: boolean;
  callback: string | null;
  logfile: string;
  execute: string[];
  fork: boolean;
  supervised: boolean;
  quiescent: boolean;
  readdquiescent: boolean;
  emailalert: string;
  emailalertfreq: number;
  emailalertstatus: number;
  emailalertfrom: string | null;
  cleanstop: boolean;
  smtp: string | null;
  maintenancedir: string | null;
  /** Raw global fallbacks per protocol, as Perl's $FALLBACK->{tcp|udp}. */
  rawFallback: { tcp: RawFallback & { line: number }; udp: RawFallback & { line: number } } | undefined;
  rawFallback6: { tcp: RawFallback & { line: number }; udp: RawFallback & { line: number } } | undefined;
}

/** Perl set_defaults. */
function defaults(): GlobalState {
  return {
    checktimeout: -1,
    negotiatetimeout: -1,
    checkinterval: 10,
    checkcount: 1,
    failurecount: 1,
    fallbackcommand: null,
    autoreload: false,
    callback: null,
    logfile: '/var/log/ldirectord.log',
    execute: [],
    fork: false,
    supervised: false,
    quiescent: false,
    readdquiescent: false,
    emailalert: '',
    emailalertfreq: 0,
    emailalertstatus: DAEMON_STATUS_ALL,
    emailalertfrom: null,
    cleanstop: true,
    smtp: null,
    maintenancedir: null,
    rawFallback: undefined,
    rawFallback6: undefined,
  };
}

/**
 * Parse the bytes of an ldirectord.cf. The text is handled as bytes (latin1), as Perl
 * reads it: `\s` is ASCII whitespace, `.` matches `\r`, and UTF-8 in comments or values
 * passes through untouched (values are turned back into UTF-8 strings at the end).
 */
export async function parseConfig(input: Buffer | string, file: string, opts: ParseOptions): Promise<Config> {
  return new ConfigReader(input, file, opts).read();
}

class ConfigReader {
  private readonly lines: string[];
  private readonly fs: FileProbe;
  private readonly G = defaults();
  private readonly raws: RawVirtual[] = [];
  private readonly warnings: ConfigWarning[] = [];
  private readonly seen = new Set<string>();
  private idx = 0;
  /** Perl's $line: the number of the last line read. */
  private line = 0;

  constructor(
    input: Buffer | string,
    private readonly file: string,
    private readonly opts: ParseOptions,
  ) {
    const text = typeof input === 'string' ? Buffer.from(input, 'utf8').toString('latin1') : input.toString('latin1');
    // Perl's <CFGFILE>: every line keeps its "\n".
    this.lines = text.length ? text.split(/(?<=\n)/) : [];
    this.fs = opts.fs ?? realFileProbe;
  }

  private err(line: number, msg: string): never {
    throw new ConfigError(this.file, line, fromByteString(msg));
  }

  private warn(line: number, msg: string): void {
    this.warnings.push({ line, message: fromByteString(msg) });
  }

  async read(): Promise<Config> {
    let pending: string | undefined;
    for (;;) {
      let linedata: string;
      if (pending !== undefined) {
        linedata = pending;
        pending = undefined;
      } else {
        if (this.idx >= this.lines.length) break;
        linedata = this.lines[this.idx++]!;
        this.line++;
      }
      const vm = RE.virtual.exec(linedata);
      if (vm) {
        // Perl: the line that ends a block is processed again as a top-level line.
        pending = await this.virtualBlock(vm[1] ? 6 : 4, vm[2]!);
        if (pending === undefined) break;
        continue;
      }
      if (RE.blank.test(linedata) || RE.comment.test(linedata)) continue;
      await this.globalLine(linedata);
    }
    // Perl warns here that a per-virtual checkinterval is ignored unless fork=yes. This
    // daemon honours it in every mode (one timer per probe), so there is nothing to warn of.
    const global = this.finishGlobal();
    const lines = new Map<VirtualService, Record<string, number>>();
    const virtuals = this.raws.map((raw) => {
      const v = this.finishVirtual(raw, global);
      lines.set(v, raw.lines);
      return v;
    });
    if (this.opts.validateChecks !== false) validateForChecks(this.file, virtuals, lines);
    return { file: this.file, global, virtuals, warnings: this.warnings };
  }

  // --- top-level lines -------------------------------------------------------------------
  private async globalLine(linedata: string): Promise<void> {
    const G = this.G;
    const line = this.line;
    let m: RegExpExecArray | null;
    if ((m = RE.checktimeout.exec(linedata))) {
      G.checktimeout = this.positive(m[1]!, 'invalid check timeout value', true);
    } else if (RE.connecttimeout.test(linedata)) {
      this.err(line, 'connecttimeout directive deprecated in favour of negotiatetimeout');
    } else if ((m = RE.negotiatetimeout.exec(linedata))) {
      G.negotiatetimeout = this.positive(m[1]!, 'invalid negotiate timeout value', true);
    } else if ((m = RE.checkinterval.exec(linedata))) {
      G.checkinterval = this.positive(m[1]!, 'invalid check interval value');
    } else if ((m = RE.checkcount.exec(linedata))) {
      G.checkcount = this.positive(m[1]!, 'invalid check count value');
      this.warn(line, "checkcount option is deprecated and slated for removal.  please see 'failurecount'");
    } else if ((m = RE.failurecount.exec(linedata))) {
      G.failurecount = this.positive(m[1]!, 'invalid failure count value');
    } else if ((m = RE.gFallback.exec(linedata))) {
      // Perl parses and resolves a global fallback twice, once per protocol.
      const af = m[1] ? 6 : 4;
      const tcp = { ...this.parseFallback(line, m[2]!, undefined), line };
      const udp = { ...this.parseFallback(line, m[2]!, undefined), line };
      await this.resolveFallback(line, 'tcp', tcp, af);
      await this.resolveFallback(line, 'udp', udp, af);
      if (af === 4) G.rawFallback = { tcp, udp };
      else G.rawFallback6 = { tcp, udp };
    } else if ((m = RE.fallbackcommand.exec(linedata))) {
      G.fallbackcommand = this.nonEmpty(m[1]!, 'invalid fallback command');
    } else if ((m = RE.gAutoreload.exec(linedata))) {
      G.autoreload = this.yesNo(m[1]!, "autoreload must be 'yes' or 'no'");
    } else if ((m = RE.gCallback.exec(linedata))) {
      G.callback = m[1]!;
    } else if ((m = RE.gLogfile.exec(linedata))) {
      const path = m[1]!;
      // Perl opens a log file once as a test, except under -d or supervised=yes.
      if (this.opts.checkFiles && !this.opts.debug && !G.supervised && path.startsWith('/')) {
        if (this.fs.tryAppend(fromByteString(path)) !== null) this.err(line, `unable to open logfile: ${path}`);
      }
      G.logfile = path;
    } else if ((m = RE.gExecute.exec(linedata))) {
      if (!G.execute.includes(m[1]!)) G.execute.push(m[1]!);
    } else if ((m = RE.gFork.exec(linedata))) {
      G.fork = this.yesNo(m[1]!, "fork must be 'yes' or 'no'");
    } else if (RE.gSupervisedAny.test(linedata)) {
      const s = RE.gSupervised.exec(linedata);
      if (s && (s[1] === 'yes' || s[1] === 'no')) G.supervised = s[1] === 'yes';
      else if (RE.gSupervisedBare.test(linedata)) {
        G.supervised = true;
        this.warn(line, 'please update your config not to use a bare supervised directive');
      } else this.err(line, "supervised must be 'yes' or 'no'");
    } else if ((m = RE.quiescent.exec(linedata))) {
      G.quiescent = this.yesNo(m[1]!, "quiescent must be 'yes' or 'no'");
    } else if ((m = RE.gReaddquiescent.exec(linedata))) {
      G.readdquiescent = this.yesNo(m[1]!, "readdquiescent must be 'yes' or 'no'");
    } else if ((m = RE.emailalert.exec(linedata))) {
      G.emailalert = this.readEmailalert(m[1]!);
    } else if ((m = RE.emailalertfreq.exec(linedata))) {
      G.emailalertfreq = this.digits(m[1]!, 'invalid email alert frequency');
    } else if ((m = RE.emailalertstatus.exec(linedata))) {
      G.emailalertstatus = this.parseEmailalertstatus(m[1]!);
    } else if ((m = RE.gEmailalertfrom.exec(linedata))) {
      G.emailalertfrom = this.nonEmpty(m[1]!, 'no email from address specified');
    } else if ((m = RE.cleanstop.exec(linedata))) {
      G.cleanstop = this.yesNo(m[1]!, "cleanstop must be 'yes' or 'no'");
    } else if ((m = RE.smtp.exec(linedata))) {
      G.smtp = this.smtpHost(m[1]!);
    } else if ((m = RE.gMaintenancedir.exec(linedata))) {
      G.maintenancedir = this.nonEmpty(m[1]!, 'maintenance directory not specified');
      if (!this.fs.isDirectory(fromByteString(G.maintenancedir)))
        this.warn(line, 'maintenance directory does not exist');
    } else {
      if (RE.gTimeout.test(linedata)) {
        this.err(line, 'timeout directive deprecated in favour of checktimeout and negotiatetimeout');
      }
      this.err(line, `Unknown command ${maskSecret(chomp(linedata))}`);
    }
  }

  // --- a virtual block ---------------------------------------------------------------------
  /** Parse one `virtual=` block. Returns the line that ended it, or undefined at end of file. */
  private async virtualBlock(af: 4 | 6, vattr: string): Promise<string | undefined> {
    const virtualLine = this.line;
    let ipPort: string | undefined;
    let fwm: string | undefined;
    let virtualPort = '0';
    let m: RegExpExecArray | null;
    if ((m = RE.vIPv4.exec(vattr)) && af === 4) {
      ipPort = `${m[1]}:${m[2]}`;
      virtualPort = m[2]!;
    } else if ((m = RE.vHost.exec(vattr))) {
      ipPort = `${m[1]}:${m[2]}`;
      virtualPort = m[2]!;
    } else if ((m = RE.vFwmark.exec(vattr))) {
      fwm = m[1]!;
    } else if ((m = RE.vIPv6.exec(vattr))) {
      if (af === 4) this.err(virtualLine, 'cannot specify an IPv6 address here. please use "virtual6" instead.');
      if (!isIPv6(m[1]!)) this.err(virtualLine, 'invalid ipv6 address for virtual server');
      ipPort = `[${m[1]}]:${m[2]}`;
      virtualPort = m[2]!;
    } else {
      this.err(virtualLine, 'invalid address for virtual server');
    }

    const v: RawVirtual = {
      line: virtualLine,
      af,
      ipPort,
      fwm,
      port: ipPort ? virtualPort : '0',
      protocol: ipPort ? (RE.udpPort.test(ipPort) ? 'udp' : 'tcp') : 'fwm',
      checktype: 'negotiate',
      numConnects: 0,
      service: ipPort ? undefined : 'none',
      scheduler: 'wrr',
      checkcommand: '/bin/true',
      request: '/',
      receive: '',
      login: '',
      passwd: '',
      database: '',
      secret: '',
      httpmethod: 'GET',
      ops: false,
      checktimeout: -1,
      negotiatetimeout: -1,
      checkcount: -1,
      failurecount: -1,
      checkinterval: undefined,
      checkport: undefined,
      persistent: undefined,
      netmask: undefined,
      schedflags: undefined,
      virtualhost: undefined,
      fallback: undefined,
      fallbackLine: 0,
      fallbackcommand: undefined,
      quiescent: undefined,
      cleanstop: undefined,
      emailalert: undefined,
      emailalertfreq: undefined,
      emailalertstatus: undefined,
      smtp: undefined,
      monitorfile: undefined,
      servicename: undefined,
      comment: undefined,
      lines: {},
    };
    const realsTodo: Array<[string, number]> = [];
    // Perl's $linedata still holds the virtual= line until a block line is read. So when
    // that line is the last of the file, Perl processes it a second time and reports
    // "duplicate virtual server" at it; starting from it here keeps that behaviour.
    let linedata: string | undefined = this.lines[this.idx - 1];

    while (this.idx < this.lines.length) {
      this.line++;
      linedata = this.lines[this.idx++]!;
      if (RE.comment.test(linedata)) continue; // a comment at any indent does not end the block
      const stripped = linedata.replace(/#[^\n]*/, '').replace(/\t/g, '    ');
      const im = RE.indented.exec(stripped);
      if (!im) break; // anything else, a blank line included, ends the block
      this.virtualDirective(v, im[1]!, linedata, af, realsTodo);
      linedata = undefined;
    }

    // The protocol is final only now, so names are resolved after the block (Perl order:
    // fallback, virtual address, reals), and the duplicate check names the line that ended it.
    if (v.fallback) await this.resolveFallback(v.fallbackLine, v.protocol, v.fallback, af);
    const addr = await this.resolveVirtual(v);
    const reals: RealServer[] = [];
    for (const [text, line] of realsTodo) await this.resolveReal(v, text, line, reals);
    const id = virtualId({
      protocol: v.protocol,
      ipv6: af === 6,
      address: addr.address,
      port: addr.port,
      fwmark: fwm === undefined ? null : Number(fwm),
    });
    if (this.seen.has(id)) this.err(this.line, 'duplicate virtual server');
    this.seen.add(id);
    this.raws.push(Object.assign(v, { resolved: { ...addr, id, reals } }));
    return linedata;
  }

  private virtualDirective(
    v: RawVirtual,
    rcmd: string,
    raw: string,
    af: 4 | 6,
    realsTodo: Array<[string, number]>,
  ): void {
    const line = this.line;
    let m: RegExpExecArray | null;
    const key = /^[a-z0-9]+/.exec(rcmd)?.[0] ?? '';
    v.lines[key] = line;
    if ((m = RE.real.exec(rcmd))) {
      if ((af === 4 && m[2] !== undefined) || (af === 6 && m[2] === undefined)) {
        this.err(line, `cannot specify "${m[1]}" here.  please use "real${af === 4 ? '' : '6'}" instead`);
      }
      realsTodo.push([m[3]!, line]);
    } else if ((m = RE.request.exec(rcmd))) {
      const req = this.nonEmpty(m[1]!, 'no request string specified');
      v.request = RE.leadingSlash.test(req) ? req : '/' + req;
    } else if ((m = RE.receive.exec(rcmd))) {
      v.receive = this.nonEmpty(m[1]!, 'invalid receive string');
    } else if ((m = RE.checktype.exec(rcmd))) {
      const d = RE.digits.exec(m[1]!);
      const w = RE.wordDash.exec(m[1]!);
      if (d) {
        v.numConnects = Number(d[1]);
        v.checktype = 'combined';
      } else if (w && ['connect', 'negotiate', 'ping', 'off', 'on', 'external', 'external-perl'].includes(w[1]!)) {
        v.checktype = w[1] as CheckType;
      } else {
        this.err(
          line,
          'checktype must be "connect", "negotiate", "on", "off", "ping", "external", "external-perl" or a positive number',
        );
      }
    } else if ((m = RE.checkcommandQ.exec(rcmd) ?? RE.checkcommand.exec(rcmd))) {
      v.checkcommand = this.nonEmpty(m[1]!, 'invalid check command');
    } else if ((m = RE.checktimeout.exec(rcmd))) {
      v.checktimeout = this.positive(m[1]!, 'invalid check timeout');
    } else if (RE.connecttimeout.test(rcmd)) {
      this.err(line, 'connecttimeout directive deprecated in favour of negotiatetimeout');
    } else if ((m = RE.negotiatetimeout.exec(rcmd))) {
      v.negotiatetimeout = this.positive(m[1]!, 'invalid negotiate timeout');
    } else if ((m = RE.checkcount.exec(rcmd))) {
      v.checkcount = this.positive(m[1]!, 'invalid check count');
      this.warn(line, "checkcount option is deprecated and slated for removal.  please see 'failurecount'");
    } else if ((m = RE.failurecount.exec(rcmd))) {
      v.failurecount = this.positive(m[1]!, 'invalid failure count');
    } else if ((m = RE.checkinterval.exec(rcmd))) {
      v.checkinterval = this.positive(m[1]!, 'invalid checkinterval');
    } else if ((m = RE.checkport.exec(rcmd))) {
      const port = this.digits(m[1]!, 'invalid port');
      if (!(port > 0 && port < 65536)) this.err(line, 'checkport must be in range 1..65536');
      v.checkport = port;
    } else if ((m = RE.login.exec(rcmd))) {
      v.login = this.nonEmpty(m[1]!, 'invalid login string');
    } else if ((m = RE.passwd.exec(rcmd))) {
      v.passwd = this.nonEmpty(m[1]!, 'invalid password');
    } else if ((m = RE.database.exec(rcmd))) {
      v.database = this.nonEmpty(m[1]!, 'invalid database');
    } else if ((m = RE.secret.exec(rcmd))) {
      v.secret = this.nonEmpty(m[1]!, 'invalid secret');
    } else if ((m = RE.load.exec(rcmd))) {
      // Parsed and never used by the Perl daemon.
      if (!RE.word.test(m[1]!)) this.err(line, 'invalid string for load testing');
    } else if ((m = RE.scheduler.exec(rcmd))) {
      // Any [a-z]+ is accepted (ipvsadm rejects unknown schedulers), as the Perl daemon does.
      const s = RE.lower.exec(m[1]!);
      if (!s) this.err(line, 'invalid scheduler, should be only lowercase letters (a-z)');
      v.scheduler = s![1]!;
    } else if ((m = RE.persistent.exec(rcmd))) {
      v.persistent = this.digits(m[1]!, 'invalid persistent timeout');
    } else if ((m = RE.schedflags.exec(rcmd))) {
      const s = RE.nonSpace.exec(m[1]!);
      if (!s) this.err(line, 'invalid sched-flags');
      v.schedflags = s![1]!;
    } else if ((m = RE.netmask.exec(rcmd))) {
      const val = m[1]!;
      if (af === 6) {
        if (!RE.netmask6.test(val) || Number(val) < 1 || Number(val) > 128) {
          this.err(line, 'invalid netmask: a prefix length between 1 and 128 is required');
        }
      } else if (!RE.netmask4.test(val)) {
        this.err(line, 'invalid netmask: dotted quad notation is required');
      }
      v.netmask = val;
    } else if ((m = RE.protocol.exec(rcmd))) {
      const w = RE.word.exec(m[1]!);
      if (!w) this.err(line, 'invalid protocol');
      if (v.protocol === 'fwm') {
        if (w![1] !== 'fwm') this.err(line, 'protocol must be fwm if the virtual service is a fwmark (a number)');
      } else if (w![1] === 'tcp' || w![1] === 'udp') {
        v.protocol = w![1];
      } else {
        this.err(line, 'protocol must be tcp or udp if the virtual service is an address and port');
      }
    } else if ((m = RE.ops.exec(rcmd))) {
      v.ops = this.yesNo(m[1]!, "ops must be 'yes' or 'no'");
    } else if ((m = RE.service.exec(rcmd))) {
      const w = RE.word.exec(m[1]!);
      if (!w || !(SERVICES as readonly string[]).includes(w[1]!)) {
        this.err(
          line,
          'service must be dns, ftp, http, https, http_proxy, imap, imaps, ldap, ldaps, mysql, nntp, none, oracle, pop, pops, radius, pgsql, simpletcp, sip, smtp or submission',
        );
      }
      v.service = w![1] as Service;
      // Perl applies these defaults here, only when login/passwd are still empty.
      if (v.service === 'ftp' && v.login === '') v.login = 'anonymous';
      else if (v.service === 'sip' && v.login === '') v.login = `ldirectord@${this.opts.hostname}`;
      if (v.service === 'ftp' && v.passwd === '') v.passwd = `ldirectord@${this.opts.hostname}`;
    } else if ((m = RE.httpmethod.exec(rcmd))) {
      const w = RE.word.exec(m[1]!);
      const method = w?.[1]!.toUpperCase();
      if (method !== 'GET' && method !== 'HEAD') this.err(line, 'httpmethod must be GET or HEAD');
      v.httpmethod = method as 'GET' | 'HEAD';
    } else if ((m = RE.virtualhost.exec(rcmd))) {
      v.virtualhost = RE.vhost.exec(m[1]!)![1]!;
    } else if ((m = RE.fallback.exec(rcmd))) {
      if ((af === 4 && m[2] !== undefined) || (af === 6 && m[2] === undefined)) {
        this.err(line, `cannot specify "${m[1]}" here.  please use "fallback${af === 4 ? '' : '6'}" instead`);
      }
      v.fallbackLine = line;
      v.fallback = this.parseFallback(line, m[3]!, v.port);
    } else if ((m = RE.fallbackcommandQ.exec(rcmd) ?? RE.fallbackcommand.exec(rcmd))) {
      v.fallbackcommand = this.nonEmpty(m[1]!, 'invalid fallback command');
    } else if ((m = RE.quiescent.exec(rcmd))) {
      v.quiescent = this.yesNo(m[1]!, "quiescent must be 'yes' or 'no'");
    } else if ((m = RE.emailalert.exec(rcmd))) {
      v.emailalert = this.readEmailalert(m[1]!);
    } else if ((m = RE.emailalertfreq.exec(rcmd))) {
      v.emailalertfreq = this.digits(m[1]!, 'invalid email alert frequency');
    } else if ((m = RE.emailalertstatus.exec(rcmd))) {
      v.emailalertstatus = this.parseEmailalertstatus(m[1]!);
    } else if ((m = RE.monitorfileQ.exec(rcmd) ?? RE.monitorfile.exec(rcmd))) {
      const f = m[1]!;
      if (this.opts.checkFiles) {
        const e = this.fs.tryAppend(fromByteString(f));
        if (e !== null) this.err(line, `unable to open monitorfile ${f}: ${e}`);
      }
      v.monitorfile = f;
    } else if ((m = RE.cleanstop.exec(rcmd))) {
      v.cleanstop = this.yesNo(m[1]!, "cleanstop must be 'yes' or 'no'");
    } else if ((m = RE.smtp.exec(rcmd))) {
      v.smtp = this.smtpHost(m[1]!);
    } else if ((m = RE.servicename.exec(rcmd))) {
      v.servicename = m[1]!;
    } else if ((m = RE.commentDirective.exec(rcmd))) {
      v.comment = m[1]!;
    } else {
      this.err(line, `Unknown command "${maskSecret(chomp(raw))}"`);
    }
  }

  // --- value helpers (each is one Perl idiom) ------------------------------------------------
  /** `$1 =~ /(\d+)/ && $1 or config_error`: digits anywhere, Perl-true (not "0"). */
  private positive(val: string, msg: string, strictlyPositive = false): number {
    const d = RE.digits.exec(val);
    if (!d || !truthy(d[1]) || (strictlyPositive && !(Number(d[1]) > 0))) this.err(this.line, msg);
    return Number(d![1]);
  }

  /** `$1 =~ /(\d+)/ or config_error`. */
  private digits(val: string, msg: string): number {
    const d = RE.digits.exec(val);
    if (!d) this.err(this.line, msg);
    return Number(d![1]);
  }

  /** `$1 =~ /(.+)/ or config_error`. */
  private nonEmpty(val: string, msg: string): string {
    const m = RE.any.exec(val);
    if (!m) this.err(this.line, msg);
    return m![1]!;
  }

  /** `($1 eq "yes" || $1 eq "no") or config_error`: exact, so trailing blanks are errors. */
  private yesNo(val: string, msg: string): boolean {
    if (!yesNo(val)) this.err(this.line, msg);
    return val === 'yes';
  }

  private smtpHost(val: string): string {
    const s = RE.smtpHost.exec(val);
    if (!s) this.err(this.line, 'invalid SMTP server address');
    return s![1]!;
  }

  /** Perl read_emailalert: strip enclosing quotes, then require something. */
  private readEmailalert(addr: string): string {
    const q = RE.emailQuoted.exec(addr);
    return this.nonEmpty(q ? q[1]! : addr, 'no email address specified');
  }

  /** Perl parse_emailalertstatus: a comma list folded into the daemon-status bitmask. */
  private parseEmailalertstatus(arg: string): number {
    const parts = arg.split(RE.statusSep);
    while (parts.length && parts[parts.length - 1] === '') parts.pop(); // Perl split drops trailing empties
    const none = parts.includes('none');
    let status = 0;
    for (const p of parts) {
      if (p === 'none') continue;
      if (p === 'all') status = DAEMON_STATUS_ALL;
      else if (p in DAEMON_STATUS) status |= DAEMON_STATUS[p as keyof typeof DAEMON_STATUS];
      else this.err(this.line, `invalid email alert status at: "${p}"`);
      if (none) this.err(this.line, `invalid email alert status: "${p}" specified with "none"`);
    }
    return status;
  }

  /** Perl parse_fallback: `host[:port] [gate|masq|ipip]`; the port defaults to the virtual's. */
  private parseFallback(line: number, text: string, virtualPort: string | undefined): RawFallback {
    let parse = text;
    let fwd: string | undefined;
    const sm = RE.fbSplit.exec(parse);
    if (sm) {
      fwd = sm[3];
      parse = sm[1]!;
    }
    const pm = RE.portSuffix.exec(parse)!; // always matches, possibly empty
    const server = parse.slice(0, pm.index) + parse.slice(pm.index + pm[0].length);
    const port = pm[2] ?? virtualPort;
    if (truthy(fwd) && fwd !== 'gate' && fwd !== 'masq' && fwd !== 'ipip') {
      this.err(line, 'forward method must be gate, masq or ipip');
    }
    return { server, port, forward: truthy(fwd) ? (fwd as Forward) : 'gate' };
  }

  // --- resolution ------------------------------------------------------------------------------
  /** Perl ld_gethostbyname: strip [brackets], then getaddrinfo in the family. */
  private async host(name: string, af: 4 | 6): Promise<string | null> {
    const b = RE.brackets.exec(name);
    return this.opts.resolver.host(fromByteString(b ? b[1]! : name), af);
  }

  /** Perl ld_getservbyname: numbers pass if 0..65535, names go to getservbyname. */
  private servicePort(name: string, proto: string): number | null {
    if (RE.numeric.test(name)) return Number(name) < 65536 ? Number(name) : null;
    return this.opts.resolver.service(name, proto);
  }

  private async resolveFallback(line: number, protocol: string, fb: RawFallback, af: 4 | 6): Promise<void> {
    const addr = await this.host(fb.server, af);
    if (addr === null) {
      this.err(
        line,
        `invalid ${af === 4 ? 'IPv4' : 'IPv6'} address or could not resolve for fallback server: ${fb.server}`,
      );
    }
    fb.server = addr!;
    if (!truthy(fb.port)) return;
    const port = this.servicePort(fb.port, protocol);
    if (!port) this.err(line, 'invalid port for fallback server');
    fb.port = String(port);
  }

  /** Perl _ld_read_config_virtual_resolve via ld_gethostservbyname. */
  private async resolveVirtual(v: RawVirtual): Promise<{ address: string | null; port: number }> {
    if (!v.ipPort) return { address: null, port: 0 };
    const pm = RE.portSuffix.exec(v.ipPort)!;
    const hostPart = v.ipPort.slice(0, pm.index) + v.ipPort.slice(pm.index + pm[0].length);
    const address = await this.host(hostPart, v.af);
    const port = pm[2] === undefined ? null : this.servicePort(pm[2], v.protocol);
    if (address === null || port === null) this.err(v.line, 'invalid address for virtual service');
    if (v.service === undefined) {
      // Perl compares the port as a string, so "080" maps to no service.
      const portText = RE.numeric.test(pm[2]!) ? pm[2]! : String(port);
      v.service = String(Number(portText)) === portText ? serviceForPort(port!) : 'none';
    }
    return { address, port: port! };
  }

  /** Perl _ld_read_config_real_resolve: one real= line, possibly a range. */
  private async resolveReal(v: RawVirtual, text: string, line: number, out: RealServer[]): Promise<void> {
    const m = RE.realLine.exec(text);
    if (!m) this.err(line, 'invalid address for real server (wrong format)');
    const [, ip1, , ip2, , portText = '0', flags = ''] = m!;
    const first = await this.host(ip1!, v.af);
    if (first === null) this.err(line, `invalid address (${ip1}) for real server (could not resolve host)`);
    const port = this.servicePort(portText, '');
    if (port === null) this.err(line, `invalid port (${portText}) for real server (could not resolve port)`);
    if (ip2 === undefined) {
      out.push(this.realServer(line, first!, port!, flags));
      return;
    }
    const last = await this.host(ip2, v.af);
    if (last === null) this.err(line, `invalid address (${ip2}) for real server (could not resolve end host)`);
    if (v.af === 6) this.err(line, 'Address range for IPv6 is not supported yet');
    const a = ipToInt(first!);
    const b = ipToInt(last!);
    if (a > b) {
      this.err(line, `Invalid Range: ${first}-${last}: First value must be greater than or equal to the second value`);
    }
    // W-12 fixed: Perl compared the integers as strings (`le`) and added nothing when the
    // range crossed a change in digit count; here every address of the range is added.
    for (let i = a; i <= b; i++) out.push(this.realServer(line, intToIp(i), port!, flags));
  }

  /** Perl add_real_server: `gate|masq|ipip [weight] ["request", "receive"] [l:N] [u:N]`. */
  private realServer(line: number, address: string, port: number, flags: string): RealServer {
    const fm = RE.realForward.exec(flags);
    if (!fm || !['gate', 'masq', 'ipip'].includes(fm[1]!)) this.err(line, 'forward method must be gate, masq or ipip');
    const r: RealServer = {
      line,
      address,
      port,
      forward: fm![1] as Forward,
      weight: 1,
      request: null,
      receive: null,
      lower: 0,
      upper: 0,
    };
    let rest = fm![2]!;
    let m: RegExpExecArray | null;
    if ((m = RE.realWeight.exec(rest))) {
      r.weight = Number(m[1]);
      rest = m[2]!;
    }
    if ((m = RE.realReqRecv.exec(rest))) {
      // W-3 fixed: Perl's leading-'/' test reset $1..$3, losing the receive string and the
      // rest of the line whenever the request already began with '/'.
      r.request = RE.leadingSlash.test(m[1]!) ? m[1]! : '/' + m[1]!;
      r.receive = m[2]!;
      rest = m[3]!;
    }
    if ((m = RE.realLower.exec(rest))) {
      r.lower = Number(m[1]);
      rest = m[2]!;
    }
    if ((m = RE.realUpper.exec(rest))) {
      r.upper = Number(m[1]);
      rest = m[2]!;
    }
    if (RE.nonBlank.test(rest)) this.err(line, `Invalid real server line, around "${rest}"`);
    return r;
  }

  // --- ld_setup: defaults and inheritance, once the whole file is read ----------------------
  private finishGlobal(): GlobalConfig {
    const G = this.G;
    const firstSet = (...vals: number[]) => vals.find((x) => x >= 0)!;
    const fb = (raw: GlobalState['rawFallback']) =>
      raw
        ? {
            address: raw.tcp.server,
            port: truthy(raw.tcp.port) ? Number(raw.tcp.port) : null,
            forward: raw.tcp.forward,
            line: raw.tcp.line,
          }
        : null;
    return {
      checkinterval: G.checkinterval,
      checktimeout: firstSet(G.checktimeout, G.negotiatetimeout, 5),
      negotiatetimeout: firstSet(G.negotiatetimeout, G.checktimeout, 30),
      checkcount: G.checkcount,
      failurecount: G.failurecount,
      autoreload: G.autoreload,
      quiescent: G.quiescent,
      readdquiescent: G.readdquiescent,
      cleanstop: G.cleanstop,
      fork: G.fork,
      supervised: G.supervised,
      logfile: utf8(G.logfile),
      maintenancedir: utf8n(G.maintenancedir),
      callback: utf8n(G.callback),
      fallbackcommand: utf8n(G.fallbackcommand),
      emailalert: G.emailalert === '' ? null : utf8(G.emailalert),
      emailalertfrom: utf8n(G.emailalertfrom),
      emailalertfreq: G.emailalertfreq,
      emailalertstatus: G.emailalertstatus,
      smtp: G.smtp,
      execute: G.execute.map(utf8),
      fallback: fb(G.rawFallback),
      fallback6: fb(G.rawFallback6),
    };
  }

  private finishVirtual(raw: RawVirtual, global: GlobalConfig): VirtualService {
    const G = this.G;
    const r = (
      raw as RawVirtual & { resolved: { address: string | null; port: number; id: string; reals: RealServer[] } }
    ).resolved;
    const firstSet = (...vals: number[]) => vals.find((x) => x >= 0)!;
    return {
      line: raw.line,
      id: r.id,
      protocol: raw.protocol,
      ipv6: raw.af === 6,
      address: r.address,
      port: r.port,
      fwmark: raw.fwm === undefined ? null : Number(raw.fwm),
      scheduler: raw.scheduler,
      persistent: raw.persistent ?? null,
      netmask: raw.netmask ?? null,
      ops: raw.ops,
      schedflags: utf8n(raw.schedflags),
      checktype: raw.checktype,
      negotiateEvery: raw.checktype === 'combined' ? raw.numConnects : null,
      service: raw.service!,
      checkport: raw.checkport ?? null,
      request: utf8(raw.request),
      receive: utf8(raw.receive),
      httpmethod: raw.httpmethod,
      virtualhost: utf8n(raw.virtualhost),
      login: utf8(raw.login),
      passwd: utf8(raw.passwd),
      database: utf8(raw.database),
      secret: utf8(raw.secret),
      checkcommand: utf8(raw.checkcommand),
      // §3.4: the two timeouts are mutual defaults, the virtual's beating the global's.
      checktimeout: firstSet(raw.checktimeout, raw.negotiatetimeout, G.checktimeout, G.negotiatetimeout, 5),
      negotiatetimeout: firstSet(raw.negotiatetimeout, raw.checktimeout, G.negotiatetimeout, G.checktimeout, 30),
      checkinterval: raw.checkinterval || global.checkinterval,
      checkintervalOwn: raw.checkinterval !== undefined,
      checkcount: raw.checkcount >= 0 ? raw.checkcount : global.checkcount,
      failurecount: raw.failurecount >= 0 ? raw.failurecount : global.failurecount,
      quiescent: raw.quiescent ?? global.quiescent,
      cleanstop: raw.cleanstop ?? global.cleanstop,
      fallback: this.effectiveFallback(raw, r.port),
      fallbackcommand: utf8n(raw.fallbackcommand) ?? global.fallbackcommand,
      emailalert: raw.emailalert !== undefined ? utf8(raw.emailalert) : global.emailalert,
      emailalertfreq: raw.emailalertfreq ?? global.emailalertfreq,
      emailalertstatus: raw.emailalertstatus ?? global.emailalertstatus,
      smtp: raw.smtp ?? global.smtp,
      monitorfile: utf8n(raw.monitorfile),
      servicename: utf8n(raw.servicename),
      comment: utf8n(raw.comment),
      reals: r.reals.map((x) => ({
        ...x,
        request: x.request === null ? null : utf8(x.request),
        receive: x.receive === null ? null : utf8(x.receive),
      })),
    };
  }

  /** Perl fallback_find: the virtual's own, else the global one for its family and protocol. */
  private effectiveFallback(raw: RawVirtual, virtualPort: number): FallbackServer | null {
    if (raw.fallback) {
      return {
        line: raw.fallbackLine,
        address: raw.fallback.server,
        port: truthy(raw.fallback.port) ? Number(raw.fallback.port) : 0,
        forward: raw.fallback.forward,
      };
    }
    const g = raw.af === 6 ? this.G.rawFallback6 : this.G.rawFallback;
    if (!g) return null;
    // W-4 fixed: Perl looked up $FALLBACK->{fwm}, which does not exist, and ran `-r :0`.
    // A fwmark virtual takes the global fallback as parsed for tcp.
    const fb = raw.protocol === 'udp' ? g.udp : g.tcp;
    return {
      line: fb.line,
      address: fb.server,
      port: truthy(fb.port) ? Number(fb.port) : virtualPort,
      forward: fb.forward,
    };
  }
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const utf8 = (s: string) => fromByteString(s);
const utf8n = (s: string | null | undefined) => (s === null || s === undefined ? null : fromByteString(s));
