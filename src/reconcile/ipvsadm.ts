/**
 * The kernel behind an interface: read the table, run commands. The real implementation
 * runs ipvsadm with an argv array (never a shell), a clean environment and a deadline
 * after which the process is killed.
 *
 * Reading: `ipvsadm -S -n` (the rule format), plus `ipvsadm -L -n --thresholds` when the
 * caller needs thresholds. Anything ipvsadm prints that is not understood makes the read
 * fail: the daemon never acts on a table it did not read. An ipvsadm without -S (some
 * test doubles) is read through `-L -n`.
 * Writing: one command runs as itself; several go through one `ipvsadm -R` (the rule
 * format on stdin). `ipvsadm -R` carries on past a failing line and still exits 0, so the
 * caller verifies by reading the table back (reconciler.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { applyThresholds, parseList, parseSave } from './ipvsadm-save';
import { restoreLine } from './ops';
import { simulateCommand } from './simulate';
import { cloneTable, type Table } from './table';
import { isSyncCommand, parseDaemonList, simulateSyncCommand, type SyncDaemon } from './sync-daemon';
import { trackChild } from '../util/children';
import { isExecutable } from '../util/fs';
import { FULL_READ_EVERY_MS, PROC_IP_VS, ipvsFingerprint } from './proc-ip-vs';

export interface RunResult {
  ok: boolean;
  /** The command line(s) run, for logs. */
  argv: string[];
  stderr: string;
  exit: number | null;
  /** Why the process could not be run at all (ENOENT, timeout, …). */
  error: string | null;
}

export interface IpvsAdapter {
  /** What is being driven, for logs (`/sbin/ipvsadm`). */
  readonly name: string;
  /** Read the table; with `thresholds`, also the connection thresholds. Throws IpvsError. */
  read(opts: { thresholds: boolean }): Promise<Table>;
  /** Run commands (each an argv without the program name). Never throws. */
  run(commands: string[][]): Promise<RunResult>;
  /** The kernel's connection sync threads (`-L --daemon`). Throws IpvsError. */
  daemons(): Promise<SyncDaemon[]>;
  /** ipvsadm processes started so far (a benchmark figure). */
  readonly spawned: number;
}

export class IpvsError extends Error {
  constructor(
    message: string,
    readonly argv: string[],
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'IpvsError';
  }
}

/**
 * --ipvsadm PATH, else LDIRECTORD_IPVSADM (for callers that can only pass the environment,
 * such as the OCF agent in tests), else the original's lookup: /sbin/ipvsadm, then
 * /usr/sbin/ipvsadm, then ipvsadm on PATH.
 */
export function findIpvsadm(explicit: string | null, debug = false): string {
  if (explicit) return explicit;
  const local = debug ? debugIpvsadm() : null;
  if (local) return local;
  if (process.env.LDIRECTORD_IPVSADM) return process.env.LDIRECTORD_IPVSADM;
  for (const p of ['/sbin/ipvsadm', '/usr/sbin/ipvsadm']) if (existsSync(p)) return p;
  return 'ipvsadm';
}

/**
 * The original's test hook: under -d, an executable `./ipvsadm` in the current directory
 * is used instead of the system's. Only one that no other user could have put there (owned
 * by this user or root, writable by no group or other), since -d runs as root too.
 */
function debugIpvsadm(): string | null {
  const path = resolve('ipvsadm');
  if (!isExecutable(path)) return null;
  const st = statSync(path);
  const uid = process.getuid?.() ?? 0;
  return (st.uid === uid || st.uid === 0) && (st.mode & 0o022) === 0 ? path : null;
}

interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
  error: string | null;
}

const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C' };
/** Every token the planner produces: flags, numbers, addresses, scheduler names, flag lists. */
const SAFE_TOKEN = /^(-[A-Za-z6]|[0-9A-Za-z.:[\],_-]+)$/;
/** How long an ipvsadm run may take before it is killed (LDIRECTORD_IPVSADM_TIMEOUT, seconds). */
export function ipvsadmTimeoutMs(): number {
  const s = Number(process.env.LDIRECTORD_IPVSADM_TIMEOUT);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 15000;
}
const MAX_OUTPUT = 256 * 1024 * 1024;
/** What is kept of ipvsadm's stderr. */
const MAX_STDERR = 64 * 1024;

export class Ipvsadm implements IpvsAdapter {
  spawned = 0;
  /** Set when the binary turns out not to support -R (a test double): run one by one. */
  private noRestore = false;
  private noSave = false;
  /**
   * The last `-S -n` output and its parse. The periodic resync reads the table every
   * checkinterval and it is usually the same to the byte; parsing 10,000 lines each time
   * was a tenth of the daemon's garbage. Returning the same Table object for the same text
   * also lets the reconciler see that nothing moved (reconciler.ts). Not used when
   * thresholds are merged in, as that changes the Table. With it: the kernel listing's
   * fingerprint taken around the read (null: not usable as a shortcut), and when it was.
   */
  private lastSave: { text: string; table: Table; fingerprint: string | null; at: number } | null = null;

  constructor(
    readonly name: string,
    private readonly timeoutMs = ipvsadmTimeoutMs(),
    /** The kernel's listing (proc-ip-vs.ts), or null to always fork ipvsadm. */
    private readonly procPath: string | null = PROC_IP_VS,
  ) {}

  private fingerprint(): string | null {
    return this.procPath === null ? null : ipvsFingerprint(this.procPath);
  }

  private runIpvsadm(args: string[], input?: string): Promise<Exec> {
    this.spawned++;
    return new Promise((resolve) => {
      let child;
      try {
        child = trackChild(
          spawn(this.name, args, {
            env: { ...ENV, PATH: process.env.PATH ? `${process.env.PATH}:${ENV.PATH}` : ENV.PATH },
            stdio: ['pipe', 'pipe', 'pipe'],
          }),
        );
      } catch (e) {
        resolve({ code: null, stdout: '', stderr: '', error: (e as Error).message });
        return;
      }
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      let errSize = 0;
      let failed: string | null = null;
      let done = false;
      const finish = (code: number | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve({
          code,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8').trim(),
          error: failed,
        });
      };
      const timer = setTimeout(() => {
        failed = `timed out after ${this.timeoutMs / 1000} s, killed`;
        child.kill('SIGKILL');
      }, this.timeoutMs);
      // Out of descriptors, spawn reports EMFILE through 'error', and may have no pipes at all.
      child.once('error', (e: NodeJS.ErrnoException) => {
        failed = `cannot run ${this.name}: ${e.code ?? e.message}`;
        if (child.pid === undefined) finish(null);
      });
      child.stdout?.on('data', (b: Buffer) => {
        size += b.length;
        if (size > MAX_OUTPUT) {
          failed = 'output too large, killed';
          child.kill('SIGKILL');
        } else out.push(b);
      });
      child.stderr?.on('data', (b: Buffer) => {
        if (errSize < MAX_STDERR) err.push(b);
        errSize += b.length;
      });
      // EPIPE when ipvsadm exits before reading all of -R's input; its exit status tells.
      child.stdin?.on('error', () => undefined);
      child.once('close', (code) => finish(code));
      if (!child.stdout || !child.stderr || !child.stdin) {
        failed = `cannot run ${this.name}: no pipes (out of file descriptors?)`;
        child.kill('SIGKILL');
        return finish(null);
      }
      child.stdin.end(input ?? '');
    });
  }

  async read(opts: { thresholds: boolean }): Promise<Table> {
    let table: Table | null = null;
    let first: IpvsError | null = null;
    // Nothing changed since the last full read, as far as the kernel's own listing shows:
    // that table, without a fork (proc-ip-vs.ts; a full read at least every minute).
    const before = this.lastSave && !opts.thresholds ? this.fingerprint() : null;
    if (before !== null && this.lastSave?.fingerprint === before && Date.now() - this.lastSave.at < FULL_READ_EVERY_MS)
      return this.lastSave.table;
    if (!this.noSave) {
      const proc = opts.thresholds ? null : (before ?? this.fingerprint());
      const r = await this.runIpvsadm(['-S', '-n']);
      if (r.error === null && r.code === 0) {
        // The listing is trusted for this table only if nothing moved during the read.
        const after = proc === null ? null : this.fingerprint();
        const fingerprint = after !== null && after === proc ? after : null;
        if (!opts.thresholds && this.lastSave?.text === r.stdout) {
          this.lastSave = { ...this.lastSave, fingerprint, at: Date.now() };
          return this.lastSave.table;
        }
        table = this.checked(parseSave(r.stdout), ['-S', '-n'], r.stderr);
        this.lastSave = opts.thresholds ? null : { text: r.stdout, table, fingerprint, at: Date.now() };
      } else {
        this.lastSave = null;
        first = new IpvsError(failure(this.name, ['-S', '-n'], r), ['-S', '-n'], r.stderr);
      }
    }
    if (table === null) {
      // Some ipvsadm stand-ins only list; the real one always has -S.
      const r = await this.runIpvsadm(['-L', '-n']);
      if (r.error !== null || r.code !== 0)
        throw first ?? new IpvsError(failure(this.name, ['-L', '-n'], r), ['-L', '-n'], r.stderr);
      table = this.checked(parseList(r.stdout), ['-L', '-n'], r.stderr);
      if (first) this.noSave = true;
    }
    if (opts.thresholds) {
      const r = await this.runIpvsadm(['-L', '-n', '--thresholds']);
      // Without thresholds the reconciler simply does not compare them.
      if (r.error === null && r.code === 0) applyThresholds(table, r.stdout);
    }
    return table;
  }

  private checked(p: { table: Table; unknown: string[] }, argv: string[], stderr: string): Table {
    if (p.unknown.length) {
      throw new IpvsError(
        `unexpected output from ${this.name} ${argv.join(' ')}: ${JSON.stringify(p.unknown[0]!.slice(0, 200))}`,
        argv,
        stderr,
      );
    }
    return p.table;
  }

  async daemons(): Promise<SyncDaemon[]> {
    const argv = ['-L', '--daemon'];
    const r = await this.runIpvsadm(argv);
    if (r.error !== null || r.code !== 0) throw new IpvsError(failure(this.name, argv, r), argv, r.stderr);
    return parseDaemonList(r.stdout);
  }

  async run(commands: string[][]): Promise<RunResult> {
    // What this changes may not show in /proc (scheduler flags): the next read is a full one.
    if (this.lastSave) this.lastSave.fingerprint = null;
    const bad = commands.flat().find((t) => !SAFE_TOKEN.test(t));
    if (bad !== undefined) {
      // Never reached through the parser's validation; kept so no value can ever smuggle an
      // option or, through -R's line format, a whole extra command into ipvsadm.
      return {
        ok: false,
        argv: commands.map((c) => `${this.name} ${c.join(' ')}`),
        stderr: `refused unsafe argument ${JSON.stringify(bad)}`,
        exit: null,
        error: 'refused',
      };
    }
    if (commands.length === 1 || this.noRestore) {
      const results: RunResult[] = [];
      for (const c of commands) results.push(toResult(this.name, c, await this.runIpvsadm(c)));
      return merge(results);
    }
    const input = commands.map(restoreLine).join('\n') + '\n';
    const r = await this.runIpvsadm(['-R'], input);
    if (r.code === 2 && !r.stderr && r.error === null) {
      // Not a real ipvsadm (the real one never exits 2 without a message): no -R here.
      this.noRestore = true;
      return this.run(commands);
    }
    return { ...toResult(this.name, ['-R'], r), argv: [`${this.name} -R`, ...commands.map(restoreLine)] };
  }
}

function failure(name: string, argv: string[], r: Exec): string {
  if (r.error) return r.error;
  return `${name} ${argv.join(' ')} exited with status ${r.code}${r.stderr ? `: ${r.stderr}` : ''}`;
}

function toResult(name: string, argv: string[], r: Exec): RunResult {
  return {
    ok: r.error === null && r.code === 0 && !r.stderr,
    argv: [`${name} ${argv.join(' ')}`],
    stderr: r.stderr,
    exit: r.code,
    error: r.error,
  };
}

function merge(rs: RunResult[]): RunResult {
  return {
    ok: rs.every((r) => r.ok),
    argv: rs.flatMap((r) => r.argv),
    stderr: rs
      .map((r) => r.stderr)
      .filter(Boolean)
      .join('\n'),
    exit: rs.find((r) => !r.ok)?.exit ?? 0,
    error: rs.find((r) => r.error)?.error ?? null,
  };
}

/**
 * Dry-run: reads the real table once (or starts from an empty one when ipvsadm or IPVS
 * is unavailable), then carries every command it is given forward on its own copy,
 * so the daemon converges without changing anything.
 */
export class DryRunIpvs implements IpvsAdapter {
  readonly name: string;
  spawned = 0;
  private table: Table | null = null;
  /** The real table as first read (what the commands would be applied to). */
  initial: Table = new Map();
  /** Why the real table could not be read (the plan is then against an empty table). */
  unavailable: string | null = null;
  readonly commands: string[][] = [];
  private syncDaemons: SyncDaemon[] | null = null;

  constructor(
    private readonly real: IpvsAdapter,
    private readonly onCommand: (argv: string[]) => void = () => undefined,
  ) {
    this.name = `${real.name} (dry-run)`;
  }

  async read(opts: { thresholds: boolean }): Promise<Table> {
    if (this.table === null) {
      try {
        this.table = await this.real.read(opts);
      } catch (e) {
        this.unavailable = (e as Error).message;
        this.table = new Map();
      }
      this.spawned = this.real.spawned;
      this.initial = cloneTable(this.table);
    }
    return cloneTable(this.table);
  }

  /** The real threads as first read (none when they cannot be), then this copy's own. */
  async daemons(): Promise<SyncDaemon[]> {
    this.syncDaemons ??= await this.real.daemons().catch(() => []);
    return this.syncDaemons;
  }

  async run(commands: string[][]): Promise<RunResult> {
    if (this.table === null) await this.read({ thresholds: false });
    const errors: string[] = [];
    for (const c of commands) {
      this.commands.push(c);
      this.onCommand(c);
      const e = isSyncCommand(c) ? simulateSyncCommand(await this.daemons(), c) : simulateCommand(this.table!, c);
      if (e) errors.push(e);
    }
    return {
      ok: errors.length === 0,
      argv: commands.map((c) => `ipvsadm ${c.join(' ')}`),
      stderr: errors.join('\n'),
      exit: 0,
      error: null,
    };
  }
}
