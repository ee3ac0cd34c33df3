/**
 * Throwaway server processes for the protocol check tests: a temp dir, a child process
 * run in the foreground with its output in a log file, readiness by looking at the
 * kernel's socket tables (/proc/net), and a stop that always happens (SIGCONT, SIGTERM,
 * then SIGKILL; and SIGKILL from a process 'exit' hook if mocha exits first).
 *
 * Nothing here touches a system service: every server gets its own config, data and
 * pid files under the temp dir, its own loopback address in 127.30.0.0/16 (this test
 * area's range) or ::1, and ports that were free when it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIPv6 } from 'node:net';

/** Loopback addresses of this test area, one per protocol. */
export const ADDR = {
  ldap: '127.30.1.1',
  dns: '127.30.2.1',
  radius: '127.30.3.1',
  sip: '127.30.4.1',
  /** An address where nothing listens. */
  nobody: '127.30.255.254',
} as const;

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ldirectord-${prefix}-`));
}

// ---------------------------------------------------------------------------------------
// Ports

function tryBind(kind: 'tcp' | 'udp', host: string, port: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (kind === 'tcp') {
      const srv = createServer();
      srv.once('error', () => resolve(null));
      srv.listen({ host, port, exclusive: true }, () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    } else {
      const s = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
      s.once('error', () => {
        s.close();
        resolve(null);
      });
      s.bind({ address: host, port, exclusive: true }, () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    }
  });
}

/**
 * A port that is free right now on every (kind, host) pair given, e.g. UDP and TCP on
 * 127.30.2.1 and ::1 for a DNS server. `count` consecutive ports when asked (sipp's
 * media ports come in pairs).
 */
export async function freePort(binds: Array<['tcp' | 'udp', string]>, count = 1): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const first = await tryBind(binds[0][0], binds[0][1], 0);
    if (first === null || first + count > 65535) continue;
    let ok = true;
    for (let i = 0; i < count && ok; i++) {
      for (const [kind, host] of binds) {
        if ((await tryBind(kind, host, first + i)) === null) {
          ok = false;
          break;
        }
      }
    }
    if (ok) return first;
  }
  throw new Error(`no free port on ${binds.map((b) => b.join(' ')).join(', ')}`);
}

// ---------------------------------------------------------------------------------------
// Readiness, from the kernel's socket tables

/** /proc/net's spelling of an address: each 32-bit word of it in host byte order. */
function procAddress(host: string): string {
  let bytes: Buffer;
  if (isIPv6(host)) {
    bytes = Buffer.alloc(16);
    const [head, tail] = host.includes('::') ? host.split('::') : [host, null];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === null ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
  } else {
    bytes = Buffer.from(host.split('.').map(Number));
  }
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    const word = endianness() === 'LE' ? bytes.readUInt32LE(i) : bytes.readUInt32BE(i);
    out += word.toString(16).toUpperCase().padStart(8, '0');
  }
  return out;
}

/** Is something bound to host:port (UDP), or listening there (TCP)? */
export function isBound(kind: 'tcp' | 'udp', host: string, port: number): boolean {
  const file = `/proc/net/${kind}${isIPv6(host) ? '6' : ''}`;
  const want = `${procAddress(host)}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    return false;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // TCP state 0A is LISTEN; UDP sockets are 07 (unconnected).
    if (f[1] === want && (kind === 'udp' || f[3] === '0A')) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Processes

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) {
    try {
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

export interface Daemon {
  readonly name: string;
  readonly dir: string;
  readonly pid: number;
  /**
   * SIGSTOP, and wait until every thread of the process has stopped (the signal is
   * asynchronous: a thread already awake could otherwise answer one more request).
   * The sockets stay open but nothing answers.
   */
  freeze(): Promise<void>;
  /** SIGCONT. */
  thaw(): void;
  /** Stop the process (SIGCONT, SIGTERM, SIGKILL after 5 s) and wait for it. */
  stop(): Promise<void>;
  /** Stop it and remove its temp dir. */
  dispose(): Promise<void>;
  /** The tail of its output, for failure messages. */
  logTail(): string;
}

/** Are all threads of `pid` in state T (stopped), per /proc/<pid>/task/<tid>/stat? */
function allThreadsStopped(pid: number): boolean {
  try {
    const tids = readdirSync(`/proc/${pid}/task`);
    return tids.every((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      // pid (comm) STATE ...: comm may hold spaces and parentheses, so split at the last ')'.
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T';
    });
  } catch {
    return false;
  }
}

export interface StartOptions {
  /** Readiness: all these sockets bound (checked every 50 ms). */
  ready: Array<['tcp' | 'udp', string, number]>;
  /** Give up after this long (the start of a server, not a check: never asserted on). */
  startTimeoutMs?: number;
  cwd?: string;
}

/** Run `cmd args` in the foreground, output to <dir>/<name>.log, until its sockets are up. */
export async function startDaemon(
  name: string,
  dir: string,
  cmd: string,
  args: string[],
  opts: StartOptions,
): Promise<Daemon> {
  const logPath = join(dir, `${name}.log`);
  const fd = openSync(logPath, 'a');
  const child = spawn(cmd, args, { cwd: opts.cwd ?? dir, stdio: ['ignore', fd, fd], detached: false });
  closeSync(fd);
  live.add(child);
  let exited = false;
  const exitedP = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      live.delete(child);
      resolve();
    });
    child.once('error', () => {
      exited = true;
      live.delete(child);
      resolve();
    });
  });
  const logTail = () => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-25).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (exited) return;
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exitedP;
    clearTimeout(kill);
  };
  const daemon: Daemon = {
    name,
    dir,
    get pid() {
      return child.pid ?? -1;
    },
    freeze: async () => {
      child.kill('SIGSTOP');
      const deadline = Date.now() + 5000;
      while (!allThreadsStopped(child.pid ?? -1)) {
        if (Date.now() > deadline) throw new Error(`${name} did not stop on SIGSTOP`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    thaw: () => void child.kill('SIGCONT'),
    stop,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    logTail,
  };
  const deadline = Date.now() + (opts.startTimeoutMs ?? 15000);
  for (;;) {
    if (exited) throw new Error(`${name} exited during start-up:\n${logTail()}`);
    if (opts.ready.every(([kind, host, port]) => isBound(kind, host, port))) return daemon;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not open ${opts.ready.map((r) => r.join(' ')).join(', ')} in time:\n${logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Run a command to completion (set-up steps such as slapadd, openssl); throws on failure. */
export function runTool(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} failed (${code ?? signal}):\n${out}`)),
    );
  });
}

/** Sockets still open in this process (to prove a check tore its own down). */
export function openSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => /^(TCPSocketWrap|ConnectWrap|UDPWrap|TLSWrap)$/.test(r)).length;
}

/** Let pending close callbacks run. */
export function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 50));
}
