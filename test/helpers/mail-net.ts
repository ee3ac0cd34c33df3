/**
 * Plumbing for the mail/news/FTP/simpletcp check tests: loopback addresses and free ports,
 * throwaway directories, real daemons started as child processes and stopped again, a
 * self-signed certificate, and the few hand-written servers the tests need (a server that
 * accepts and never answers, a closed port).
 *
 * Addresses: this test area uses 127.20.0.0/16 (other areas use other ranges) and ::1.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { which } from './env';

/** Loopback addresses per check family (all in 127.20.0.0/16). */
export const ADDR = {
  smtp: '127.20.1.1',
  mailbox: '127.20.2.1',
  ftp: '127.20.3.1',
  nntp: '127.20.4.1',
  simpletcp: '127.20.5.1',
} as const;
export const V6 = '::1';

/** A port that is free on every one of `hosts` right now (the kernel picks it). */
export async function freePort(...hosts: string[]): Promise<number> {
  return (await freePorts(1, ...hosts))[0]!;
}

/**
 * `count` distinct ports, each free on every one of `hosts`. All are held bound until
 * the last is found, so the kernel cannot hand out the same port twice.
 */
export async function freePorts(count: number, ...hosts: string[]): Promise<number[]> {
  const held: Array<() => Promise<void>> = [];
  const ports: number[] = [];
  try {
    for (let attempt = 0; ports.length < count && attempt < 50 * count; attempt++) {
      const first = await bindOnce(hosts[0]!, 0);
      if (first === null) continue;
      const mine = [first.close];
      let ok = true;
      for (const h of hosts.slice(1)) {
        const b = await bindOnce(h, first.port);
        if (b === null) {
          ok = false;
          break;
        }
        mine.push(b.close);
      }
      if (ok) {
        ports.push(first.port);
        held.push(...mine);
      } else {
        for (const c of mine) await c();
      }
    }
  } finally {
    for (const c of held) await c();
  }
  if (ports.length < count) throw new Error(`no ${count} ports free on all of ${hosts.join(', ')}`);
  return ports;
}

function bindOnce(host: string, port: number): Promise<{ port: number; close: () => Promise<void> } | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(null));
    srv.listen({ host, port, exclusive: true }, () => {
      const p = (srv.address() as { port: number }).port;
      resolve({ port: p, close: () => new Promise((r) => srv.close(() => r())) });
    });
  });
}

/** A temporary directory readable by the daemons' unprivileged users (mode 0755). */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `ldtest-${prefix}-`));
  chmodSync(path, 0o755);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Why a daemon-backed test cannot run here, or null. */
export function missingRootAnd(...commands: string[]): string | null {
  if (process.getuid?.() !== 0) return 'needs root (the daemons bind, chroot and switch users)';
  for (const c of commands) if (!which(c)) return `${c} is not installed (see .ci/packages/checks-mail.txt)`;
  return null;
}

/** Can this process make a private mount namespace (used to give a daemon its own /etc files)? */
export function missingMountNamespace(): string | null {
  if (!which('unshare')) return 'unshare (util-linux) is not installed';
  const r = spawnSync('unshare', ['--mount', 'true'], { stdio: 'ignore' });
  return r.status === 0 ? null : 'cannot create a mount namespace (unshare --mount failed)';
}

/** A long-running child process with its output kept for failure messages. */
export interface Daemon {
  child: ChildProcess;
  output(): string;
  /** SIGTERM, wait for the exit (SIGKILL after 10 s). Idempotent. */
  stop(): Promise<void>;
}

export function startDaemon(cmd: string, args: string[]): Daemon {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
    child.once('error', (e) => {
      out += String(e);
      resolve();
    });
  });
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** Poll `probe` until it resolves true (or throw after `ms`). */
export async function waitUntil(what: string, probe: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Connect, read the first chunk the server sends (null if none within `ms`). */
export function firstBytes(host: string, port: number, ms = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const t = setTimeout(() => done(null), ms);
    const done = (v: string | null) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    s.once('data', (d: Buffer) => done(d.toString('latin1')));
    s.once('error', () => done(null));
    s.once('close', () => done(null));
  });
}

/** Make a self-signed certificate (EC P-256) in `dir`: cert.pem and key.pem. */
export function makeCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=ldirectord-test',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  chmodSync(key, 0o644);
  return { cert, key };
}

/**
 * A TCP server that accepts connections and never sends a byte (a hung service). It
 * remembers its connections so a test can see the check closed its socket at the deadline.
 */
export interface SilentServer {
  port: number;
  /** Resolves when the first accepted connection has been closed by the client. */
  firstClosed: Promise<void>;
  accepted(): number;
  close(): Promise<void>;
}

export function silentServer(host: string): Promise<SilentServer> {
  return new Promise((resolve, reject) => {
    const sockets = new Set<Socket>();
    let count = 0;
    let onFirstClosed!: () => void;
    const firstClosed = new Promise<void>((r) => (onFirstClosed = r));
    const srv: Server = createServer((s) => {
      count++;
      sockets.add(s);
      s.on('error', () => undefined);
      // Read and drop whatever the client sends, so its half-close and close are seen.
      s.resume();
      s.once('close', () => {
        sockets.delete(s);
        onFirstClosed();
      });
    });
    srv.once('error', reject);
    srv.listen({ host, port: 0 }, () =>
      resolve({
        port: (srv.address() as { port: number }).port,
        firstClosed,
        accepted: () => count,
        close: () =>
          new Promise((r) => {
            for (const s of sockets) s.destroy();
            srv.close(() => r());
          }),
      }),
    );
  });
}

/** A port on `host` with nothing listening (bound once, then released). */
export async function closedPort(host: string): Promise<number> {
  return freePort(host);
}

/** Resolve within `ms` or fail with `what` (so a test never hangs on a promise). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
