/**
 * `npm run bench:keepalived`: this daemon against keepalived (Debian's package) in a real
 * IPVS kernel, side by side in one boot of the QEMU guest (test/vm/ipvs-vm). A benchmark,
 * not a test: it prints one JSON line per run and a summary, and asserts nothing.
 *
 *   npm run bench:keepalived -- [--n 50,200,500] [--runs 3] [--window 20]
 *
 * For each N, each run, keepalived then this daemon (one after the other, never together),
 * each in a fresh director network namespace (test/vm/lab.ts) with the same N reals: one
 * target process (bench/target.ts) serving HTTP on 10.9.10.1… over the namespace's veth, so
 * to the director they are remote hosts. The same check on both sides: GET /, status 200,
 * body "OK" (keepalived: its MD5 digest), connect/answer timeout 2 s, every 1 s, weight 0 on
 * the first failure (keepalived `inhibit_on_failure`, `retry 0`; here `quiescent=yes`,
 * `failurecount=1`), a new connection per check on both sides.
 *
 * Figures, all measured from outside the process under test:
 *   checks_per_cpu_s   requests the target answered ÷ CPU seconds of the whole process
 *                      tree (utime+stime of every process, children reaped included)
 *   cpu_s_per_s        the same CPU ÷ the window
 *   pass_p50/p90_s     interval between two checks of one real (seen by the target)
 *   detect_p50/p99_s   10 % of the reals answer 503 from a moment on → their weight 0 in
 *                      the kernel (/proc/PID/net/ip_vs, polled every 20 ms)
 *   full_table_s       spawn → every real at a positive weight in the kernel
 *   rss_mb             resident memory of the process tree in the steady state
 * Only ratios mean anything: the guest runs under software emulation.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../test/helpers/env';
import { Lab } from '../test/vm/lab';
import { addressOf } from './target';

const NET = '10.9';
const BASE = 10; // third octet of the first real: 10.9.10.1 (10.9.0.x is the link)
const VIP = '10.0.0.1';
const MD5_OK = 'e0aa021e21dddbd6d8cecec71e9cf564'; // md5("OK")

const arg = (name: string, dflt: string) => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1]! : dflt;
};

// --- on the host: boot the guest and run this file inside it ------------------------------

function host(): number {
  const script = join(ROOT, 'test', 'vm', 'ipvs-vm', 'run-in-ipvs-vm.sh');
  if (!existsSync('/usr/sbin/keepalived')) {
    process.stderr.write('bench:keepalived: keepalived is not installed (apt-get install keepalived)\n');
    return 1;
  }
  const argv = [
    '-t',
    '3600',
    '-m',
    '4096',
    '-e',
    'TZ',
    '-e',
    'BENCH_DAEMON_NODE_OPTIONS',
    '-e',
    'BENCH_KEEPALIVED_LOG',
  ];
  argv.push(ROOT, '--', process.execPath, __filename, '--in-vm');
  argv.push(...process.argv.slice(2));
  const child = spawn(script, argv, { stdio: 'inherit', env: { ...process.env, IPVS_VM_NO_INSTALL: '1' } });
  child.on('exit', (c) => process.exit(c ?? 1));
  return 0;
}

// --- in the guest ------------------------------------------------------------------------

interface Row {
  who: 'keepalived' | 'ldirectord';
  n: number;
  run: number;
  checks_per_cpu_s: number;
  cpu_s_per_s: number;
  pass_p50_s: number;
  pass_p90_s: number;
  detect_p50_s: number;
  detect_p99_s: number;
  full_table_s: number;
  rss_mb: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** Every process under `pid` (itself included), from /proc. */
function tree(pid: number): number[] {
  const kids = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = kids.get(ppid) ?? [];
      list.push(Number(e));
      kids.set(ppid, list);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(kids.get(p) ?? []));
  }
  return out;
}

const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds of the tree, children that have exited included (cutime, cstime). */
function cpuOf(pid: number): number {
  let ticks = 0;
  for (const p of tree(pid)) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8');
      const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
      // fields 14-17 (utime stime cutime cstime) are v[11..14]
      ticks += Number(v[11]) + Number(v[12]) + Number(v[13]) + Number(v[14]);
    } catch {
      // gone
    }
  }
  return ticks / TICK;
}

function rssOf(pid: number): number {
  let kb = 0;
  for (const p of tree(pid)) {
    try {
      const m = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

/** Weights of the VIP's reals in the kernel, by `hexaddr:hexport`, as the process sees them. */
function weights(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/net/ip_vs`, 'latin1');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const m = /^\s+-> ([0-9A-F]{8}:[0-9A-F]{4})\s+\S+\s+(\d+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

const hexOf = (i: number) =>
  addressOf(i, NET, BASE)
    .split('.')
    .map((o) => Number(o).toString(16).toUpperCase().padStart(2, '0'))
    .join('') + ':1F90';

function keepalivedConf(n: number): string {
  const reals = Array.from(
    { length: n },
    (_x, i) => `  real_server ${addressOf(i, NET, BASE)} 8080 {
    weight 1
    inhibit_on_failure
    HTTP_GET {
      url {
        path /
        status_code 200
        digest ${MD5_OK}
      }
      connect_timeout 2
      retry 0
      delay_before_retry 1
    }
  }`,
  );
  return `global_defs {
  router_id bench
}
virtual_server ${VIP} 80 {
  delay_loop 1
  lb_algo wrr
  lb_kind NAT
  protocol TCP
${reals.join('\n')}
}
`;
}

function ldirectordConf(n: number, log: string): string {
  const reals = Array.from({ length: n }, (_x, i) => `\treal=${addressOf(i, NET, BASE)}:8080 masq 1`);
  return `logfile="${log}"
checkinterval=1
checktimeout=2
negotiatetimeout=2
failurecount=1
quiescent=yes
virtual=${VIP}:80
${reals.join('\n')}
\tservice=http
\tchecktype=negotiate
\trequest="/"
\treceive="OK"
\tscheduler=wrr
`;
}

async function ask(target: ChildProcess, msg: object): Promise<Record<string, unknown>> {
  const id = Math.random();
  return new Promise((resolve) => {
    const on = (m: { id?: number }) => {
      if (m.id !== id) return;
      target.off('message', on);
      resolve(m as Record<string, unknown>);
    };
    target.on('message', on);
    target.send({ ...msg, id });
  });
}

async function measure(who: Row['who'], n: number, run: number, windowS: number): Promise<Row> {
  const lab = new Lab();
  try {
    // The reals: addresses of this namespace, served by one target process.
    for (let i = 0; i < n; i++) execFileSync('ip', ['addr', 'add', `${addressOf(i, NET, BASE)}/16`, 'dev', lab.link]);
    const target = fork(join(__dirname, 'target.js'), [String(n), '1', '0', NET, String(BASE)], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    await new Promise((r) => target.once('message', r));
    let pid: number;
    const t0 = Date.now();
    let proc: ChildProcess | null = null;
    if (who === 'keepalived') {
      const conf = join(lab.dir, 'keepalived.conf');
      writeFileSync(conf, keepalivedConf(n));
      proc = spawn(
        'ip',
        [
          'netns',
          'exec',
          lab.ns,
          '/usr/sbin/keepalived',
          '--dont-fork',
          '--check',
          '--use-file',
          conf,
          '--pid',
          join(lab.dir, 'k.pid'),
          '--checkers_pid',
          join(lab.dir, 'kc.pid'),
          '--log-detail',
          ...(process.env.BENCH_KEEPALIVED_LOG ? ['--log-console'] : []),
        ],
        { stdio: process.env.BENCH_KEEPALIVED_LOG ? 'inherit' : 'ignore' },
      );
      pid = proc.pid!;
    } else {
      writeFileSync(lab.cfg, ldirectordConf(n, lab.log));
      // As in production: the command as installed (its first line gives node the heap
      // flags), `ldirectord CONFIG start`, which daemonises, logs to its file and returns
      // once the daemon runs; the process tree measured is the daemon's (pid file).
      // BENCH_DAEMON_NODE_OPTIONS (e.g. `--cpu-prof --cpu-prof-dir=/work/main/prof`): node
      // runs the command with these options (the daemon inherits them), to see where its
      // time goes in the guest.
      const flags = process.env.BENCH_DAEMON_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [];
      const cli = join(ROOT, 'dist', 'cli.js');
      const command = flags.length ? [process.execPath, ...flags, cli] : [cli];
      spawn('ip', ['netns', 'exec', lab.ns, ...command, lab.cfg, 'start'], { stdio: 'ignore' });
      pid = 0;
      const until = Date.now() + 120_000;
      while (!pid && Date.now() < until) {
        await sleep(20);
        pid = lab.pid() ?? 0;
      }
      if (!pid) throw new Error(`ldirectord did not start: ${lab.logText().slice(-2000)}`);
    }
    // spawn → every real at a positive weight.
    let full = NaN;
    for (const until = Date.now() + 120_000; Date.now() < until; await sleep(20)) {
      const w = weights(pid);
      let up = 0;
      for (let i = 0; i < n; i++) if ((w.get(hexOf(i)) ?? 0) > 0) up++;
      if (up === n) {
        full = (Date.now() - t0) / 1000;
        break;
      }
    }
    await sleep(3000); // past the start
    const since = Date.now();
    const before = (await ask(target, { cmd: 'stats', since })) as { total: number };
    const cpu0 = cpuOf(pid);
    await sleep(windowS * 1000);
    const cpu1 = cpuOf(pid);
    const after = (await ask(target, { cmd: 'stats', since })) as { total: number; intervals: number[] };
    const rss = rssOf(pid);
    const cpu = cpu1 - cpu0;
    const checks = after.total - before.total;
    // Detection: a tenth of the reals fail (503) at once.
    const failing = Array.from({ length: Math.max(1, Math.floor(n / 10)) }, (_x, k) => k * 10);
    const at = ((await ask(target, { cmd: 'fail', ids: failing })) as { at: number }).at;
    const seen = new Map<number, number>();
    for (const until = Date.now() + 30_000; seen.size < failing.length && Date.now() < until; await sleep(20)) {
      const w = weights(pid);
      for (const i of failing) if (!seen.has(i) && w.get(hexOf(i)) === 0) seen.set(i, (Date.now() - at) / 1000);
    }
    const detect = [...seen.values()];
    if (who === 'ldirectord') await lab.cli([lab.cfg, 'stop'], { ipvsadm: null });
    else {
      proc?.kill('SIGTERM');
      await sleep(3000);
      proc?.kill('SIGKILL');
    }
    target.send({ cmd: 'exit' });
    return {
      who,
      n,
      run,
      checks_per_cpu_s: round(checks / cpu, 1),
      cpu_s_per_s: round(cpu / windowS),
      pass_p50_s: round(pct(after.intervals, 50) / 1000),
      pass_p90_s: round(pct(after.intervals, 90) / 1000),
      detect_p50_s: round(pct(detect, 50)),
      detect_p99_s: round(pct(detect, 99)),
      full_table_s: round(full, 2),
      rss_mb: round(rss, 1),
    };
  } finally {
    await lab.teardown();
  }
}

async function guest(): Promise<void> {
  const ns = arg('--n', '50,200,500').split(',').map(Number);
  const runs = Number(arg('--runs', '3'));
  const windowS = Number(arg('--window', '20'));
  const rows: Row[] = [];
  for (const n of ns)
    for (let run = 1; run <= runs; run++)
      for (const who of ['keepalived', 'ldirectord'] as const) {
        const row = await measure(who, n, run, windowS);
        rows.push(row);
        process.stdout.write(JSON.stringify({ bench: 'keepalived', ...row }) + '\n');
      }
  // Medians per N and side, and the ratios the targets are stated in.
  const median = (xs: number[]) => pct(xs, 50);
  for (const n of ns) {
    const of = (who: Row['who']) => rows.filter((r) => r.n === n && r.who === who);
    const m = (who: Row['who'], k: keyof Row) => median(of(who).map((r) => r[k] as number));
    const keys: (keyof Row)[] = [
      'checks_per_cpu_s',
      'cpu_s_per_s',
      'pass_p50_s',
      'detect_p50_s',
      'detect_p99_s',
      'full_table_s',
      'rss_mb',
    ];
    const summary: Record<string, unknown> = { bench: 'keepalived-summary', n, runs };
    for (const k of keys) summary[k] = { keepalived: m('keepalived', k), ldirectord: m('ldirectord', k) };
    summary.checks_per_cpu_s_ratio = round(
      m('ldirectord', 'checks_per_cpu_s') / m('keepalived', 'checks_per_cpu_s'),
      2,
    );
    process.stdout.write(JSON.stringify(summary) + '\n');
  }
}

if (process.argv.includes('--in-vm')) {
  // keepalived is not on PATH under `ip netns exec` in every guest: absolute paths above.
  void guest().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`bench:keepalived: ${(e as Error).stack}\n`);
      process.exit(1);
    },
  );
} else host();
