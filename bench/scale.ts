/**
 * `npm run bench`: the scale benchmark of issue 7. A benchmark, not a test: it prints one
 * JSON line per run and asserts nothing.
 *
 * For each N (default 100, 2000, 10000): N reals on distinct 127.20.x.y addresses served
 * by bench/target.ts (its own capacity is measured and printed first), in V virtuals of 50
 * reals, checkinterval=1, checktimeout=2, negotiatetimeout=2, quiescent=yes, HTTP negotiate
 * checks, and a recording ipvsadm (bench/recording-ipvsadm.py) that timestamps every
 * command. Figures, all measured from outside the daemon:
 *   startup_s         process start → every real at a positive weight by its latest
 *                     command (from the ipvsadm log; Perl's unchecked start-up flap does
 *                     not count)
 *   pass_p50_s/p90_s  interval between two checks of the same real (seen by the target)
 *   detect_*_s        10 reals made to refuse at a random moment → their weight-0 command
 *   checks_per_s, cpu_s_per_min, rss_mb, ipvsadm_per_min (steady state)
 *   burst_*           1000 reals failing at once (N ≥ 2000, answering 503): time from the
 *                     failure to the last weight-0 command, from each real's detection
 *                     (the first 503 the target sent it) to its command (p50, max), and
 *                     how many ipvsadm processes carried them
 *   reload_*          one weight changed, HUP → time to the command, commands run
 * With --vs-perl, Debian's Perl ldirectord runs the same scenario (default N 2000) and
 * prints its line too, so the ratios come from one run on one machine.
 *
 *   npm run bench [-- --n 100,2000,10000] [--window 30] [--vs-perl] [--perl-n 2000]
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  openSync,
  readSync,
  closeSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressOf } from './target';
import { preparePerl } from './perl';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const RECORDER = join(ROOT, 'bench', 'recording-ipvsadm.py');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Args {
  n: number[];
  window: number;
  vsPerl: boolean;
  perlN: number;
}

function args(): Args {
  const a = process.argv.slice(2);
  const get = (k: string) => {
    const i = a.indexOf(k);
    return i >= 0 ? a[i + 1] : undefined;
  };
  return {
    n: (get('--n') ?? '100,2000,10000').split(',').map(Number),
    window: Number(get('--window') ?? 30),
    vsPerl: a.includes('--vs-perl'),
    perlN: Number(get('--perl-n') ?? 2000),
  };
}

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))]!;
}
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * The bench target, in shards of at most 4,000 addresses each (see target.ts for why),
 * each its own process driven over IPC. `ask` sends a command to every shard (a shard
 * ignores the ids it does not serve) and merges their answers.
 */
/** What a target shard answers: the request id, and the figures the command asked for. */
interface ShardAnswer {
  id: number;
  total: number;
  intervals: number[];
  at?: number;
  [figure: string]: unknown;
}

class Target {
  private seq = 0;
  private waiting = new Map<string, (m: ShardAnswer) => void>();
  constructor(readonly procs: ChildProcess[]) {
    procs.forEach((proc, k) =>
      proc.on('message', (m: ShardAnswer) => {
        const w = this.waiting.get(`${k}:${m.id}`);
        if (w) {
          this.waiting.delete(`${k}:${m.id}`);
          w(m);
        }
      }),
    );
  }
  static async start(n: number): Promise<Target> {
    const shards = Math.max(1, Math.ceil(n / 4000));
    const procs = Array.from({ length: shards }, (_x, k) =>
      fork(join(__dirname, 'target.js'), [String(n), String(shards), String(k)], {
        stdio: 'inherit',
        execArgv: ['--max-old-space-size=1024'],
      }),
    );
    await Promise.all(procs.map((proc) => new Promise<void>((resolve) => proc.once('message', () => resolve()))));
    return new Target(procs);
  }
  async ask<T>(cmd: string, extra: object = {}): Promise<T> {
    const id = ++this.seq;
    const answers = await Promise.all(
      this.procs.map(
        (proc, k) =>
          new Promise<ShardAnswer>((resolve) => {
            this.waiting.set(`${k}:${id}`, resolve);
            proc.send({ cmd, id, ...extra });
          }),
      ),
    );
    const sumBy = (key: string) =>
      answers.reduce((acc: number[], a) => (a[key] as number[]).map((x, i) => x + (acc[i] ?? 0)), []);
    switch (cmd) {
      case 'stats':
        return {
          total: answers.reduce((t, a) => t + a.total, 0),
          intervals: answers.flatMap((a) => a.intervals),
          counts: sumBy('counts'),
        } as T;
      case 'failures':
        return { firstFailure: sumBy('firstFailure') } as T;
      default:
        return { at: Math.max(...answers.map((a) => a.at ?? 0)) } as T;
    }
  }
  stop(): void {
    for (const p of this.procs) p.kill('SIGKILL');
  }
}

/** Requests per second the target sustains with a fresh connection per request. */
async function targetCapacity(n: number, seconds: number, concurrency = 256): Promise<number> {
  let done = 0;
  const until = Date.now() + seconds * 1000;
  const req = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await Promise.all(
    Array.from({ length: concurrency }, async (_x, w) => {
      for (let i = w; Date.now() < until; i += concurrency) {
        await new Promise<void>((resolve) => {
          const s = createConnection({ host: addressOf(i % n), port: 8080 });
          s.on('connect', () => s.write(req));
          s.on('data', () => undefined);
          s.on('close', () => {
            done++;
            resolve();
          });
          s.on('error', () => resolve());
        });
      }
    }),
  );
  return done / seconds;
}

function config(n: number, logfile: string): string {
  // supervised=yes: both daemons in the foreground without debug output (Perl's -d would
  // print debug lines for every check and skew its figures).
  const out = [
    'checkinterval=1',
    'checktimeout=2',
    'negotiatetimeout=2',
    'quiescent=yes',
    'supervised=yes',
    `logfile="${logfile}"`,
    '',
  ];
  const per = 50;
  for (let v = 0; v * per < n; v++) {
    out.push(
      `virtual=10.${100 + (v >> 8)}.${v & 255}.1:80`,
      '\tservice=http',
      '\trequest="/"',
      '\treceive="OK"',
      '\tscheduler=wlc',
    );
    for (let i = v * per; i < Math.min(n, (v + 1) * per); i++)
      out.push(`\treal=${addressOf(i)}:8080 masq ${1 + (i % 3)}`);
    out.push('');
  }
  return out.join('\n');
}

/** Reads the recording ipvsadm's log as it grows. */
class CommandLog {
  private pos = 0;
  private rest = '';
  readonly lines: Array<{ t: number; pid: string; cmd: string }> = [];
  constructor(readonly path: string) {}
  poll(): void {
    if (!existsSync(this.path)) return;
    const size = statSync(this.path).size;
    if (size <= this.pos) return;
    const fd = openSync(this.path, 'r');
    const buf = Buffer.alloc(size - this.pos);
    readSync(fd, buf, 0, buf.length, this.pos);
    closeSync(fd);
    this.pos = size;
    const text = this.rest + buf.toString('utf8');
    const parts = text.split('\n');
    this.rest = parts.pop()!;
    for (const l of parts) {
      const m = /^(\d+) (\d+) (.*)$/.exec(l);
      if (m) this.lines.push({ t: Number(m[1]), pid: m[2]!, cmd: m[3]! });
    }
  }
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

async function run(
  daemon: 'ldirectord-ts' | 'perl-ldirectord',
  n: number,
  window: number,
  target: Target,
): Promise<object> {
  const dir = mkdtempSync(join(tmpdir(), `ldbench-${n}-`));
  const ipvsadm = spawnText('python3', [RECORDER, '--install', join(dir, 'kernel')]).trim();
  const cfg = join(dir, 'bench.cf');
  writeFileSync(cfg, config(n, join(dir, 'ldirectord.log')));
  const log = new CommandLog(join(dir, 'kernel', 'ipvsadm.log'));
  const t0 = Date.now();
  let proc: ChildProcess;
  if (daemon === 'ldirectord-ts') {
    // Through the executable, as init scripts and the OCF agent run it (its first line
    // carries the daemon's V8 flags: src/daemon/memory.ts).
    proc = spawn(CLI, ['--ipvsadm', ipvsadm, cfg, 'start'], {
      stdio: ['ignore', 'ignore', 'ignore'],
      env: { ...process.env, LDIRECTORD_RUN_DIR: dir },
    });
  } else {
    const perl = preparePerl(ipvsadm, dir);
    proc = spawn('perl', [perl, cfg, 'start'], {
      stdio: ['ignore', 'ignore', 'ignore'],
      cwd: dir,
      env: { ...process.env, PERLIO: 'perlio' },
    });
  }
  const pid = proc.pid!;
  const result: Record<string, unknown> = { daemon, n, virtuals: Math.ceil(n / 50) };
  try {
    // Startup: every real at a positive weight by its latest command. Perl's start-up flap
    // adds each real unchecked and quiesces it at once; it is up only once its first check
    // has restored it, so a real counts by the last weight it was given, not the first.
    const added = new Set<string>();
    const deadline = Date.now() + (daemon === 'perl-ldirectord' ? 1800_000 : 300_000);
    let read = 0;
    while (added.size < n && Date.now() < deadline) {
      await sleep(100);
      log.poll();
      for (; read < log.lines.length; read++) {
        const cmd = log.lines[read]!.cmd;
        const m = /^(?:-R: )?-[ae] .* -r (\S+) \S+ -w (\d+)/.exec(cmd);
        if (m) {
          if (Number(m[2]) > 0) added.add(m[1]!);
          else added.delete(m[1]!);
          continue;
        }
        const d = /^(?:-R: )?-d .* -r (\S+)$/.exec(cmd);
        if (d) added.delete(d[1]!);
      }
    }
    result.startup_s = added.size >= n ? r3((Date.now() - t0) / 1000) : null;
    if (added.size < n) throw new Error(`only ${added.size}/${n} reals came up`);
    await sleep(3000); // let the first spread of checks settle
    // Steady state.
    const s0 = await target.ask<{ total: number }>('stats');
    const c0 = cpuSeconds(pid);
    log.poll();
    const l0 = log.lines.length;
    const w0 = Date.now();
    // Detection: 10 reals refuse at a random moment of the window.
    const victims = pick(n, 10, (i) => i % 50 !== 0 && i !== 1);
    await sleep(Math.floor((0.2 + Math.random() * 0.3) * window * 1000));
    const { at } = await target.ask<{ at: number }>('refuse', { ids: victims });
    await sleep(Math.max(0, w0 + window * 1000 - Date.now()));
    const c1 = cpuSeconds(pid);
    const s1 = await target.ask<{ total: number; intervals: number[] }>('stats', { since: w0 });
    log.poll();
    const el = (Date.now() - w0) / 1000;
    const steady = log.lines.slice(l0);
    result.pass_p50_s = r3(quantile(s1.intervals, 0.5) / 1000);
    result.pass_p90_s = r3(quantile(s1.intervals, 0.9) / 1000);
    const det = victims.map((i) => detection(log, addressOf(i), at)).filter((x): x is number => x !== null);
    result.detect_p50_s = r3(quantile(det, 0.5) / 1000);
    result.detect_p99_s = r3(quantile(det, 0.99) / 1000);
    result.detect_max_s = r3(Math.max(...det) / 1000);
    result.detect_seen = `${det.length}/10`;
    result.checks_per_s = Math.round((s1.total - s0.total) / el);
    result.cpu_s_per_min = r3(((c1 - c0) / el) * 60);
    result.rss_mb = rssMb(pid);
    result.ipvsadm_per_min = Math.round((new Set(steady.map((l) => l.pid)).size / el) * 60);
    if (n >= 2000) {
      // 1000 reals failing at once. They answer 503, so the target sees the check that
      // detected each failure: applied-minus-detected is the reaction to a detection.
      const burst = pick(n, 1000, (i) => !victims.includes(i) && i % 50 !== 0 && i !== 1); // real #1 is the reload's
      const b = await target.ask<{ at: number }>('fail', { ids: burst });
      const addrs = new Set(burst.map((i) => addressOf(i)));
      const seen = new Map<string, { t: number; pid: string }>();
      const until = Date.now() + 30000;
      while (seen.size < addrs.size && Date.now() < until) {
        await sleep(100);
        log.poll();
        for (const l of log.lines) {
          if (l.t < b.at) continue;
          const m = /^(?:-R: )?-e .* -r (\S+):8080 \S+ -w 0/.exec(l.cmd);
          if (m && addrs.has(m[1]!) && !seen.has(m[1]!)) seen.set(m[1]!, l);
        }
      }
      const times = [...seen.values()].map((x) => x.t);
      result.burst_applied = `${seen.size}/1000`;
      result.burst_last_applied_s = r3((Math.max(...times) - b.at) / 1000);
      result.burst_span_s = r3((Math.max(...times) - Math.min(...times)) / 1000);
      result.burst_ipvsadm_processes = new Set([...seen.values()].map((x) => x.pid)).size;
      const { firstFailure } = await target.ask<{ firstFailure: number[] }>('failures', { ids: burst });
      const reaction = burst
        .map((i, k) => ({ applied: seen.get(addressOf(i))?.t, detected: firstFailure[k]! }))
        .filter((x): x is { applied: number; detected: number } => x.applied !== undefined && x.detected > 0)
        .map((x) => x.applied - x.detected);
      result.burst_detect_to_applied_p50_s = r3(quantile(reaction, 0.5) / 1000);
      result.burst_detect_to_applied_max_s = r3(Math.max(...reaction) / 1000);
    }
    // Reload: one weight changed.
    const before = readFileSync(cfg, 'utf8');
    const changed = before.replace(`real=${addressOf(1)}:8080 masq 2`, `real=${addressOf(1)}:8080 masq 7`);
    writeFileSync(cfg, changed);
    log.poll();
    const lr = log.lines.length;
    const hup = Date.now();
    process.kill(pid, 'SIGHUP');
    let applied: number | null = null;
    const rUntil = Date.now() + (daemon === 'perl-ldirectord' ? 600_000 : 30_000);
    while (applied === null && Date.now() < rUntil) {
      await sleep(20);
      log.poll();
      const hit = log.lines
        .slice(lr)
        .find((l) => new RegExp(`-r ${addressOf(1).replace(/\./g, '\\.')}:8080 \\S+ -w 7`).test(l.cmd));
      if (hit) applied = hit.t;
    }
    await sleep(2000);
    log.poll();
    result.reload_ms = applied === null ? null : applied - hup;
    result.reload_commands = log.lines.slice(lr).filter((l) => /^(?:-R: )?-[AEDaed] /.test(l.cmd) && l.t >= hup).length;
  } catch (e) {
    result.error = (e as Error).message;
  } finally {
    proc.kill('SIGKILL');
    await sleep(200);
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

function detection(log: CommandLog, addr: string, at: number): number | null {
  const re = new RegExp(`^(?:-R: )?-e .* -r ${addr.replace(/\./g, '\\.')}:8080 \\S+ -w 0`);
  const hit = log.lines.find((l) => l.t >= at && re.test(l.cmd));
  return hit ? hit.t - at : null;
}

function pick(n: number, k: number, ok: (i: number) => boolean): number[] {
  const out = new Set<number>();
  while (out.size < Math.min(k, n)) {
    const i = Math.floor(Math.random() * n);
    if (ok(i)) out.add(i);
  }
  return [...out];
}

function spawnText(cmd: string, a: string[]): string {
  return execFileSync(cmd, a, { encoding: 'utf8' });
}

async function main(): Promise<void> {
  const a = args();
  const ns = [...a.n];
  if (a.vsPerl && !ns.includes(a.perlN)) ns.push(a.perlN);
  for (const n of ns) {
    const target = await Target.start(n);
    try {
      const cap = await targetCapacity(n, 3);
      process.stdout.write(
        JSON.stringify({ target: 'bench/target', n, capacity_requests_per_s: Math.round(cap) }) + '\n',
      );
      if (a.n.includes(n)) process.stdout.write(JSON.stringify(await run('ldirectord-ts', n, a.window, target)) + '\n');
    } finally {
      target.stop();
    }
    if (a.vsPerl && n === a.perlN) {
      const t2 = await Target.start(n);
      try {
        process.stdout.write(JSON.stringify(await run('perl-ldirectord', n, a.window, t2)) + '\n');
      } finally {
        t2.stop();
      }
    }
  }
}

void main();
