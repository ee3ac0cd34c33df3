/**
 * Running `node dist/cli.js CONFIG logs …` from the logs tests: a temp folder with a config
 * whose logfile= is a file in it, one-shot runs, and a follower whose output the test
 * waits on (with a bounded deadline, never a fixed sleep).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { perlLocaltime } from '../../src/perl/localtime';
import { CLI } from '../helpers/env';

export interface LogDir {
  dir: string;
  config: string;
  log: string;
  /** Append daemon-style lines (stamped `at`, default now) to the log file. */
  append(messages: string[], at?: Date): void;
  remove(): void;
}

export function logDir(globals = ''): LogDir {
  const dir = mkdtempSync(join(tmpdir(), 'ld-logs-'));
  const log = join(dir, 'ldirectord.log');
  const config = join(dir, 'web.cf');
  writeFileSync(
    config,
    `logfile="${log}"\n${globals}\nvirtual=10.0.0.1:80\n\treal=10.0.1.1:8080 masq\n\tservice=http\n`,
  );
  return {
    dir,
    config,
    log,
    append(messages, at = new Date()) {
      appendFileSync(log, messages.map((m) => stamped(m, at)).join(''));
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A line as the daemon writes it to its log file. */
export function stamped(message: string, at = new Date(), cfgname = 'web.cf', pid = 4242): string {
  return `[${perlLocaltime(at)}|${cfgname}|${pid}] ${message}\n`;
}

/** The environment for a run: no NO_COLOR inherited from the developer's shell. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('NO_COLOR' in extra)) delete env.NO_COLOR;
  return env;
}

export function runLogs(
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: cleanEnv(env), timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export class Follower {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(env) });
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** stdout split into lines (complete ones only). */
  get lines(): string[] {
    return this.stdout.split('\n').slice(0, -1);
  }

  /** Wait until `ok()` holds; fail with what was seen after `ms`. */
  async until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Wait until stdout holds a line ending with `text`. */
  untilLine(text: string, ms?: number): Promise<void> {
    return this.until(`a line ending with ${JSON.stringify(text)}`, () => this.lines.some((l) => l.endsWith(text)), ms);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exited;
  }

  wait(): Promise<number | null> {
    return this.exited;
  }
}
