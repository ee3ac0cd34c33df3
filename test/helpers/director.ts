/**
 * A director for daemon integration tests: a temp dir with a config, the recording
 * ipvsadm (dist/testing/fake-ipvsadm.js), a run dir for the pid file and status socket, and
 * real TCP listeners standing in for real servers (checktype=connect).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, FAKE } from './env';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The table-changing commands in a recording ipvsadm's log (`<ms> <pid> <argv>` lines), oldest first. */
export function recordedCommands(logFile: string): string[] {
  if (!existsSync(logFile)) return [];
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ').slice(2).join(' '))
    .filter((l) => !/^-[SL]/.test(l) && l !== '-R');
}

export class Director {
  readonly dir = mkdtempSync(join(tmpdir(), 'ldtest-'));
  readonly runDir = join(this.dir, 'run');
  readonly kernelDir = join(this.dir, 'kernel');
  readonly ipvsadm: string;
  readonly log = join(this.dir, 'ldirectord.log');
  readonly cfg: string;
  private servers = new Map<string, Server>();

  constructor(readonly name = 'test.cf') {
    spawnSync('mkdir', ['-p', this.runDir]);
    this.ipvsadm = spawnSync(process.execPath, [FAKE, '--install', this.kernelDir], { encoding: 'utf8' }).stdout.trim();
    this.cfg = join(this.dir, name);
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, LDIRECTORD_RUN_DIR: this.runDir, LDIRECTORD_IPVSADM: this.ipvsadm };
  }

  /** Write the config; `logfile` is pointed into the test dir unless the text sets one. */
  config(text: string): void {
    const body = text.replace(/^\n/, '');
    writeFileSync(this.cfg, /^logfile=/m.test(body) ? body : `logfile="${this.log}"\n${body}`);
  }

  cli(
    args: string[],
    opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
  ): Promise<CliResult> {
    return new Promise((resolve) => {
      const c = spawn(process.execPath, [CLI, ...args], {
        env: { ...this.env, ...opts.env },
        cwd: opts.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (b) => (stdout += b));
      c.stderr.on('data', (b) => (stderr += b));
      const t = setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs ?? 30000);
      c.on('close', (code) => {
        clearTimeout(t);
        resolve({ code, stdout, stderr });
      });
      c.stdin.end(opts.input ?? '');
    });
  }

  /** The fake kernel table, as `ipvsadm -S -n` prints it. */
  table(): string {
    return spawnSync(this.ipvsadm, ['-S', '-n'], { encoding: 'utf8' }).stdout;
  }

  /** Change the table by hand (an operator's ipvsadm), not logged as the daemon's. */
  hand(...argv: string[]): void {
    const r = spawnSync(this.ipvsadm, argv, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ipvsadm ${argv.join(' ')}: ${r.stderr}`);
  }

  /** Mutating ipvsadm invocations so far (reads excluded). */
  commands(): string[] {
    return recordedCommands(join(this.kernelDir, 'ipvsadm.log'));
  }

  logText(): string {
    return existsSync(this.log) ? readFileSync(this.log, 'utf8') : '';
  }

  pid(): number | null {
    const f = join(this.runDir, `ldirectord.${this.name}.pid`);
    return existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : null;
  }

  /** A real server: a TCP listener that accepts and closes. */
  async listen(host: string, port: number): Promise<void> {
    const s = createServer((c) => c.end());
    await new Promise<void>((r) => s.listen(port, host, r));
    this.servers.set(`${host}:${port}`, s);
  }

  async close(host: string, port: number): Promise<void> {
    const s = this.servers.get(`${host}:${port}`);
    this.servers.delete(`${host}:${port}`);
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  async waitFor<T>(
    what: string,
    fn: () => T | false | null | undefined | Promise<T | false | null | undefined>,
    timeoutMs = 15000,
  ): Promise<T> {
    const until = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await fn();
        if (v) return v;
        last = v;
      } catch (e) {
        last = e;
      }
      if (Date.now() > until)
        throw new Error(
          `timed out waiting for ${what} (last: ${String(last)})\ntable:\n${this.table()}\nlog:\n${this.logText().split('\n').slice(-30).join('\n')}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Wait until the table equals `expected` exactly. */
  waitTable(expected: string, timeoutMs = 15000): Promise<true> {
    return this.waitFor(`table\n${expected}`, () => this.table() === expected, timeoutMs);
  }

  async cleanup(): Promise<void> {
    const pid = this.pid();
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const k of [...this.servers.keys()]) {
      const [h, p] = [k.slice(0, k.lastIndexOf(':')), Number(k.slice(k.lastIndexOf(':') + 1))];
      await this.close(h, p);
    }
    // A killed daemon (or its last ipvsadm) may still be writing for a moment.
    if (pid) await new Promise((r) => setTimeout(r, 100));
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
}
