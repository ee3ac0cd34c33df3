/**
 * ldirectord.cf → Config, exactly as the Perl daemon's read_config + ld_setup read it.
 *
 * The Perl parser is a loop of regexes over raw lines; its quirks are the contract (a
 * blank line ends a virtual block, inline `#` is stripped only inside blocks, quotes are
 * required for some directives and not others, real= lines are resolved only when the
 * block ends, …). The directives, their regexes, readers, defaults and inheritance are the
 * table in directives.ts; this module is the loop around it, following read_config line by
 * line (the `goto outer_loop` becomes `pending`), and ld_setup's defaults and inheritance.
 *
 * Deliberate fixes of Perl parser bugs are in reals.ts (W-3, W-12) and below (W-4: a
 * global fallback applies to fwmark virtuals).
 */
import { isIPv6 } from 'node:net';
import { fromByteString } from '../perl/regex';
import { chomp } from '../perl/strings';
import { DIRECTIVE_LIST, SECRET_DIRECTIVES, type RealLine } from './directives';
import { resolveFallback, type Lookups, type RawFallback } from './fallback';
import { ConfigError, virtualId, type Config, type ConfigWarning, type Endpoint } from './model';
import { resolveReals, type RawReal } from './reals';
import { finishGlobal, finishVirtual, Values, type RawVirtual } from './setup';
import type { Resolver } from './resolve';
import { serviceForPort } from './services';
import { validateForChecks } from './validate';
import { readConfigBytes, realFileProbe } from './files';
import { P, lineRegexes, type FileProbe, type LineContext, type MachineContext, type Scope } from './values';

export type { FileProbe } from './values';

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

/** A directive as the loop tries it: its regexes and reader for one scope. */
interface Rule {
  name: string;
  regexes: RegExp[];
  read: (value: string, ctx: LineContext) => unknown;
  repeat: 'append' | 'appendUnique' | undefined;
}

function rules(scope: Scope): Rule[] {
  return DIRECTIVE_LIST.flatMap(([name, d]) => {
    const read = d[scope];
    if (!read) return [];
    const form = typeof d.form === 'string' ? d.form : d.form[scope];
    return [{ name, regexes: lineRegexes(name, form), read, repeat: d.repeat }];
  });
}

const RULES: Record<Scope, Rule[]> = { global: rules('global'), virtual: rules('virtual') };

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
  portSuffix: P`(:(\d+|[A-Za-z0-9-_]+))?$`,
  brackets: P`\[(.*)\]`,
  numeric: P`^[0-9]+$`,
};

/**
 * An unknown line is quoted in its error message, as the original does; but a mistyped
 * secret line (`passwd=hunter2` without quotes) would put the secret in every log and
 * terminal that shows the error, so its value is masked.
 */
const MASK = new RegExp(`^(\\s*(?:${[...SECRET_DIRECTIVES, 'password'].join('|')})\\s*=\\s*).+$`, 'i');
const maskSecret = (line: string) => line.replace(MASK, '$1***');

/**
 * Parse the bytes of an ldirectord.cf. The text is handled as bytes (latin1), as Perl
 * reads it: `\s` is ASCII whitespace, `.` matches `\r`, and UTF-8 in comments or values
 * passes through untouched (values are turned back into UTF-8 strings as they are stored).
 */
/**
 * Read CONFIG (a regular file, at most MAX_CONFIG_BYTES, never blocking on a FIFO) and
 * parse it. Throws ConfigError (line 0 when the file cannot be read).
 */
export async function readConfigFile(file: string, opts: ParseOptions): Promise<Config> {
  return parseConfig(readConfigBytes(file), file, opts);
}

export async function parseConfig(input: Buffer | string, file: string, opts: ParseOptions): Promise<Config> {
  return new ConfigReader(input, file, opts).read();
}

class ConfigReader {
  private readonly lines: string[];
  private readonly global = new Values();
  private readonly raws: RawVirtual[] = [];
  private readonly warnings: ConfigWarning[] = [];
  private readonly seen = new Set<string>();
  private readonly machine: MachineContext;
  private readonly lookups: Lookups;
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
    this.machine = {
      files: opts.fs ?? realFileProbe,
      checkFiles: opts.checkFiles,
      debug: opts.debug ?? false,
      hostname: opts.hostname,
    };
    this.lookups = {
      // Perl ld_gethostbyname: strip [brackets], then getaddrinfo in the family.
      host: (name, af) => opts.resolver.host(fromByteString(RE.brackets.exec(name)?.[1] ?? name), af),
      // Perl ld_getservbyname: numbers pass if 0..65535, names go to getservbyname.
      servicePort: (name, proto) =>
        RE.numeric.test(name) ? (Number(name) < 65536 ? Number(name) : null) : opts.resolver.service(name, proto),
      err: (line, msg) => this.err(line, msg),
    };
  }

  private err(line: number, msg: string): never {
    throw new ConfigError(this.file, line, fromByteString(msg));
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
      if (!(await this.directive('global', linedata, this.global, 4))) {
        this.err(this.line, `Unknown command ${maskSecret(chomp(linedata))}`);
      }
    }
    // Perl warns here that a per-virtual checkinterval is ignored unless fork=yes. This
    // daemon honours it in every mode (one timer per probe), so there is nothing to warn of.
    const global = finishGlobal(this.global);
    const virtuals = this.raws.map((raw) => finishVirtual(raw, global, this.global));
    if (this.opts.validateChecks !== false) {
      validateForChecks(this.file, virtuals, (v, name) => this.raws[virtuals.indexOf(v)]!.values.line.get(name));
    }
    return { file: this.file, global, virtuals, warnings: this.warnings };
  }

  /** Read `text` as a directive of `scope` into `values`; false when no directive matches it. */
  private async directive(scope: Scope, text: string, values: Values, af: 4 | 6): Promise<boolean> {
    for (const rule of RULES[scope]) {
      let m: RegExpExecArray | null = null;
      for (const re of rule.regexes) if ((m = re.exec(text))) break;
      if (!m) continue;
      const line = this.line;
      const ctx: LineContext = {
        line,
        scope,
        name: m[1]!,
        af,
        machine: this.machine,
        lookups: this.lookups,
        err: (msg) => this.err(line, msg),
        warn: (msg) => this.warnings.push({ line, message: fromByteString(msg) }),
        get: (name) => values.get(name),
        set: (name, value) => values.value.set(name, value),
      };
      const value = utf8(await rule.read(m[2] ?? '', ctx));
      values.line.set(rule.name, line);
      if (!rule.repeat) values.value.set(rule.name, value);
      else {
        const list = values.get<unknown[]>(rule.name) ?? [];
        if (rule.repeat === 'append' || !list.includes(value)) list.push(value);
        values.value.set(rule.name, list);
      }
      return true;
    }
    return false;
  }

  /** Parse one `virtual=` block. Returns the line that ended it, or undefined at end of file. */
  private async virtualBlock(af: 4 | 6, vattr: string): Promise<string | undefined> {
    const virtualLine = this.line;
    let ipPort: string | undefined;
    let fwm: string | undefined;
    let m: RegExpExecArray | null;
    if ((m = RE.vIPv4.exec(vattr)) && af === 4) ipPort = `${m[1]}:${m[2]}`;
    else if ((m = RE.vHost.exec(vattr))) ipPort = `${m[1]}:${m[2]}`;
    else if ((m = RE.vFwmark.exec(vattr))) fwm = m[1]!;
    else if ((m = RE.vIPv6.exec(vattr))) {
      if (af === 4) this.err(virtualLine, 'cannot specify an IPv6 address here. please use "virtual6" instead.');
      if (!isIPv6(m[1]!)) this.err(virtualLine, 'invalid ipv6 address for virtual server');
      ipPort = `[${m[1]}]:${m[2]}`;
    } else this.err(virtualLine, 'invalid address for virtual server');

    const values = new Values();
    values.value.set('protocol', ipPort ? (RE.udpPort.test(ipPort) ? 'udp' : 'tcp') : 'fwm');
    values.value.set('port', ipPort ? m[2]! : '0');
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
      if (!(await this.directive('virtual', im[1]!, values, af))) {
        this.err(this.line, `Unknown command "${maskSecret(chomp(linedata))}"`);
      }
      linedata = undefined;
    }

    // The protocol is final only now, so names are resolved after the block (Perl order:
    // fallback, virtual address, reals), and the duplicate check names the line that ended it.
    const protocol = values.get<'tcp' | 'udp' | 'fwm'>('protocol')!;
    const written = values.get<RawFallback>(af === 4 ? 'fallback' : 'fallback6');
    const fallback = written ? await resolveFallback(written, protocol, af, this.lookups) : null;
    const endpoint = await this.resolveEndpoint(virtualLine, af, protocol, ipPort, fwm);
    const impliedService = this.impliedService(ipPort, endpoint);
    const reals: RawReal[] = [];
    for (const [text, line] of values.get<RealLine[]>(af === 4 ? 'real' : 'real6') ?? []) {
      reals.push(...(await resolveReals(text, line, af, this.lookups)));
    }
    const id = virtualId(endpoint, af === 6);
    if (this.seen.has(id)) this.err(this.line, 'duplicate virtual server');
    this.seen.add(id);
    this.raws.push({ line: virtualLine, af, values, endpoint, id, impliedService, fallback, reals });
    return linedata;
  }

  /** Perl _ld_read_config_virtual_resolve via ld_gethostservbyname. */
  private async resolveEndpoint(
    line: number,
    af: 4 | 6,
    protocol: 'tcp' | 'udp' | 'fwm',
    ipPort: string | undefined,
    fwm: string | undefined,
  ): Promise<Endpoint> {
    if (!ipPort || protocol === 'fwm') {
      const mark = Number(fwm);
      // ipvsadm takes a mark of 1 to UINT_MAX (the original passed 0 and 2^32 on, to fail there).
      if (!(mark >= 1 && mark <= 0xffffffff)) this.err(line, `invalid fwmark ${fwm}: ipvsadm takes 1 to 4294967295`);
      return { kind: 'fwmark', mark };
    }
    const pm = RE.portSuffix.exec(ipPort)!;
    const hostPart = ipPort.slice(0, pm.index) + ipPort.slice(pm.index + pm[0].length);
    const address = await this.lookups.host(hostPart, af);
    const port = pm[2] === undefined ? null : this.lookups.servicePort(pm[2], protocol);
    if (address === null || port === null) this.err(line, 'invalid address for virtual service');
    return { kind: 'address', protocol, address, port };
  }

  /** The service a virtual's port implies. Perl compares the port as a string, so "080" maps to none. */
  private impliedService(ipPort: string | undefined, endpoint: Endpoint): string {
    if (!ipPort || endpoint.kind === 'fwmark') return 'none';
    const written = RE.portSuffix.exec(ipPort)![2]!;
    const text = RE.numeric.test(written) ? written : String(endpoint.port);
    return String(Number(text)) === text ? serviceForPort(endpoint.port) : 'none';
  }
}

/** A value read from the file (a byte string) as a UTF-8 string; structured values as they are. */
function utf8(v: unknown): unknown {
  return typeof v === 'string' ? fromByteString(v) : v;
}
