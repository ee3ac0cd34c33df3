/**
 * The two daemons of the side-by-side runs, each with its own recording ipvsadm
 * (dist/testing/fake-ipvsadm.js --install DIR), its own config file, log file and pid file:
 *
 * - PerlSide: Debian's /usr/sbin/ldirectord, copied at test time (never committed) to
 *   `<dir>/ldirectord` with `$IPVSADM` bound to its fake ipvsadm, as the spec's Appendix A
 *   did. The copy's name keeps "ldirectord" in /proc/<pid>/cmdline, which its pid check
 *   needs. Its pid file goes where it must, /var/run/ldirectord.<cfgname>.pid, so every run
 *   uses a unique cfgname (the config file's basename). PERLIO is left unset, as in
 *   production: the script then re-execs itself once.
 * - OurSide: `node dist/cli.js --ipvsadm <fake> <config> <cmd>`, with LDIRECTORD_RUN_DIR
 *   moving its pid file and status socket into the run's temp dir.
 *
 * Both get the same config text apart from the `logfile=` line, and are driven with the
 * same commands (start, reload, status, stop) through execFile with argv arrays.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT } from '../helpers/env';

export const PERL_LDIRECTORD = '/usr/sbin/ldirectord';
export const FAKE_IPVSADM = join(ROOT, 'dist', 'testing', 'fake-ipvsadm.js');

export interface CmdResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CmdResult> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        stdout: String(stdout),
        stderr: String(stderr) + (e && typeof e.code !== 'number' && !e.signal ? `\n[execFile: ${e.message}]` : ''),
      });
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The fake ipvsadm's table, as stored in DIR/state.json. */
export interface FakeState {
  save: string;
  thresholds?: Record<string, [number, number]>;
}

export abstract class Side {
  abstract readonly label: 'perl' | 'ours';
  readonly dir: string;
  readonly ipvsDir: string;
  readonly ipvsadm: string;
  readonly config: string;
  readonly logfile: string;
  /** Pids of daemons this side started (to end them, by id, if a test leaves one behind). */
  readonly pids = new Set<number>();
  /** The daemon this side started last. */
  pid: number | null = null;

  constructor(
    base: string,
    side: string,
    readonly cfgname: string,
  ) {
    this.dir = join(base, side);
    this.ipvsDir = join(this.dir, 'ipvs');
    this.ipvsadm = join(this.ipvsDir, 'ipvsadm');
    this.config = join(this.dir, cfgname);
    this.logfile = join(this.dir, 'ldirectord.log');
  }

  abstract readonly pidFile: string;
  /** Run `ldirectord <config> <cmd>`. */
  abstract command(cmd: string, timeoutMs?: number): Promise<CmdResult>;

  /** Create the side's folder and its fake ipvsadm, and seed the table (operator's own rules). */
  prepare(seed: string[] = []): void {
    mkdirSync(this.dir, { recursive: true });
    execFileSync(process.execPath, [FAKE_IPVSADM, '--install', this.ipvsDir], { encoding: 'utf8' });
    for (const line of seed) execFileSync(this.ipvsadm, line.split(/\s+/), { encoding: 'utf8' });
  }

  /** The config text, with this side's log file. */
  writeConfig(text: string): void {
    writeFileSync(this.config, `logfile="${this.logfile}"\n${text.replace(/^\n/, '')}`);
  }

  state(): FakeState {
    try {
      return JSON.parse(readFileSync(join(this.ipvsDir, 'state.json'), 'utf8')) as FakeState;
    } catch {
      return { save: '' };
    }
  }

  /** Every ipvsadm invocation so far: `<ms> <pid> <args>` lines. */
  ipvsLog(): string[] {
    try {
      return readFileSync(join(this.ipvsDir, 'ipvsadm.log'), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  /** The invocations that change (or try to change) the table: not -L, -S. */
  ipvsMutations(): string[] {
    return this.ipvsLog()
      .map((l) => l.replace(/^\d+ \d+ /, ''))
      .filter((a) => !/^-(L|l|S)\b|^--(list|save)\b/.test(a) && a !== '-R');
  }

  /** The log file's lines (raw, with the `[time|cfg|pid] ` prefix). */
  logRaw(): string[] {
    try {
      return readFileSync(this.logfile, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  /** The pid in the pid file, when the process it names is alive. */
  daemonPid(): number | null {
    try {
      const pid = Number(readFileSync(this.pidFile, 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
    } catch {
      return null;
    }
  }

  /** Wait (bounded) for the daemon to run: pid file written, process alive. */
  async waitRunning(ms = 30000): Promise<number> {
    const until = Date.now() + ms;
    for (;;) {
      const pid = this.daemonPid();
      if (pid !== null) {
        this.pids.add(pid);
        this.pid = pid;
        return pid;
      }
      if (Date.now() > until)
        throw new Error(`${this.label}: no running daemon after ${ms} ms (pid file ${this.pidFile})`);
      await sleep(50);
    }
  }

  /** Wait (bounded) until every daemon this side started has exited. */
  async waitStopped(ms = 30000): Promise<void> {
    const until = Date.now() + ms;
    while ([...this.pids].some(isAlive)) {
      if (Date.now() > until)
        throw new Error(
          `${this.label}: daemon ${[...this.pids].filter(isAlive).join(', ')} still running ${ms} ms after stop`,
        );
      await sleep(50);
    }
  }

  /** End what this side started (by pid) and remove its pid file. For after() hooks. */
  cleanup(): void {
    const running = this.daemonPid();
    if (running !== null) this.pids.add(running);
    for (const pid of this.pids) {
      if (isAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    try {
      if (existsSync(this.pidFile)) unlinkSync(this.pidFile);
    } catch {
      // not ours to remove
    }
  }
}

export class PerlSide extends Side {
  readonly label = 'perl' as const;
  readonly program: string;
  readonly pidFile: string;

  constructor(base: string, cfgname: string) {
    super(base, 'perl', cfgname);
    this.program = join(this.dir, 'ldirectord');
    this.pidFile = `/var/run/ldirectord.${cfgname}.pid`;
  }

  override prepare(seed: string[] = []): void {
    super.prepare(seed);
    writeFileSync(this.program, patchedPerl(this.ipvsadm));
    chmodSync(this.program, 0o755);
  }

  command(cmd: string, timeoutMs = 30000): Promise<CmdResult> {
    const env = { ...process.env };
    delete env.PERLIO;
    return run(this.program, [this.config, cmd], env, timeoutMs);
  }
}

export class OurSide extends Side {
  readonly label = 'ours' as const;
  readonly runDir: string;
  readonly pidFile: string;

  constructor(base: string, cfgname: string) {
    super(base, 'ours', cfgname);
    this.runDir = join(this.dir, 'run');
    this.pidFile = join(this.runDir, `ldirectord.${cfgname}.pid`);
  }

  override prepare(seed: string[] = []): void {
    super.prepare(seed);
    mkdirSync(this.runDir, { recursive: true });
  }

  command(cmd: string, timeoutMs = 30000): Promise<CmdResult> {
    return run(
      process.execPath,
      [CLI, '--ipvsadm', this.ipvsadm, this.config, cmd],
      { ...process.env, LDIRECTORD_RUN_DIR: this.runDir },
      timeoutMs,
    );
  }
}

/**
 * The Perl daemon's text with `$IPVSADM` bound to `ipvsadm` (the only change), as the
 * spec's Appendix A did: the `-d ./ipvsadm` test hook becomes unconditional.
 */
export function patchedPerl(ipvsadm: string): string {
  const src = readFileSync(PERL_LDIRECTORD, 'utf8');
  const hook = 'if ($DEBUG>0 and -f "./ipvsadm") {\n\t$IPVSADM="./ipvsadm";';
  if (!src.includes(hook)) throw new Error(`unexpected ${PERL_LDIRECTORD}: the ipvsadm test hook was not found`);
  if (/["'$\\@`]/.test(ipvsadm)) throw new Error(`unsafe path for a Perl string: ${ipvsadm}`);
  return src.replace(hook, `if (1) {\n\t$IPVSADM="${ipvsadm}";`);
}

/** Why the Perl side cannot run here, or null. */
export function missingPerlDaemon(): string | null {
  if (!existsSync(PERL_LDIRECTORD)) return "Debian's Perl ldirectord is not installed (apt-get install ldirectord)";
  try {
    const st = statSync('/var/run');
    if (!st.isDirectory()) return '/var/run is not a directory (the Perl daemon writes its pid file there)';
    const probe = `/var/run/.ldirectord-compat-probe-${process.pid}`;
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (e) {
    return `/var/run is not writable (${(e as Error).message}): the Perl daemon must write its pid file there`;
  }
  if (!existsSync(FAKE_IPVSADM)) return `${FAKE_IPVSADM} is missing (npm run build)`;
  return null;
}
