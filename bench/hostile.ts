/**
 * Hostile real servers against the whole daemon (issue 17), as a benchmark: a benchmark
 * prints figures and asserts nothing (the check and daemon tests assert the behaviour).
 *
 *   npm run bench:hostile -- [--seconds 300] [--idle 30] [--per-kind 20]
 *                            [--only drip,endless,headers,silent,invalid,regex,sql]
 *
 * Two child processes (the healthy reals in one, the hostile ones in the other) serve, on
 * 127.41.0.0/16:
 *   - 100 healthy HTTP reals (the ones whose checks must not be delayed);
 *   - hostile reals, 20 of each kind: a 1 MiB body in 1-byte chunks, an endless body,
 *     10 MiB of headers, a server that accepts and never answers, invalid HTTP;
 *   - one real with a 1 MiB one-line body that 100 virtual services check with 100
 *     different receive patterns made to make a backtracking engine take forever
 *     (`.*OK`, `[^<]*</html>`, `(a+)+$`, ...);
 *   - with MariaDB installed, a throwaway server that 20 mysql checks ask for endless rows.
 * The daemon runs as in production (`start`, its log file) with the recording ipvsadm
 * and `--metrics`.
 * First with only the healthy reals for `--idle` seconds (its idle RSS), then, after a HUP,
 * with every hostile real too for `--seconds`. Printed, one JSON line: idle RSS, the
 * highest RSS under attack and the growth (target ≤ 64 MB), the event loop's highest delay
 * under attack (every check start waits at most that long; target ≤ 50 ms), whether every
 * healthy real stayed up, and how the hostile checks ended (the daemon's `show --json`).
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer as createNet, type Socket } from 'node:net';
import { createServer as createHttp } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MariaDb } from '../test/helpers/mariadb';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const FAKE = join(ROOT, 'dist', 'testing', 'fake-ipvsadm.js');
const NET = '127.41';
const HEALTHY = 100;
/** Hostile reals of each kind (`--per-kind N`). */
const PER_KIND = (() => {
  const at = process.argv.indexOf('--per-kind');
  return at >= 0 ? Number(process.argv[at + 1]) : 20;
})();
const KINDS = ['drip', 'endless', 'headers', 'silent', 'invalid'] as const;
const PORT = 8080;
const MEBI = 1024 * 1024;

/** Receive patterns that make a backtracking matcher go exponential or quadratic on `a…a`. */
function bombs(): string[] {
  const base = [
    '.*OK',
    '[^<]*</html>',
    '(a+)+$',
    '(a|a)*b',
    '(a|aa)+$',
    '([a-z]+)*X',
    '(a*)*b',
    '.*.*.*=.*',
    '(\\w+\\s?)*$',
    'a*a*a*a*a*a*b',
  ];
  const out = [...base];
  // Variants that stay just as hostile: an optional literal in front changes nothing.
  for (let i = 0; out.length < 100; i++) out.push(`(?:z${i})?${base[i % base.length]}`);
  return out;
}

const host = (group: number, i: number) => `${NET}.${group}.${i + 1}`;

/** The healthy reals, in a process of their own: hostile servers busy sending must not slow them. */
function serveHealthy(): void {
  for (let i = 0; i < HEALTHY; i++) createHttp((_q, r) => r.end('OK')).listen(PORT, host(1, i));
  setTimeout(() => process.send?.('ready'), 500);
}

function serveHostile(): void {
  process.on('uncaughtException', () => undefined); // a hostile server must not fall over itself
  const drip = Buffer.alloc(MEBI, 'x');
  const big = 'X-Filler: ' + 'h'.repeat(10 * MEBI) + '\r\n';
  const oneLine = Buffer.alloc(MEBI, 'a');
  const handlers: Record<(typeof KINDS)[number], (s: Socket) => void> = {
    drip: (s) => {
      s.setNoDelay(true);
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${drip.length}\r\n\r\n`);
      let i = 0;
      const next = (): void => {
        if (s.destroyed || i >= drip.length) return;
        // One byte per write: the worst case for a reader that copies or concatenates.
        if (s.write(drip.subarray(i, ++i))) setImmediate(next);
        else s.once('drain', next);
      };
      next();
    },
    endless: (s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n');
      const chunk = Buffer.alloc(64 * 1024, 'z');
      const pump = (): void => {
        while (!s.destroyed && s.write(chunk));
      };
      s.on('drain', pump);
      pump();
    },
    headers: (s) => s.end(`HTTP/1.1 200 OK\r\n${big}\r\nOK`),
    silent: () => undefined,
    invalid: (s) => s.end('SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n'),
  };
  KINDS.forEach((kind, k) => {
    for (let i = 0; i < PER_KIND; i++)
      createNet((s) => {
        s.on('error', () => undefined);
        s.once('data', () => handlers[kind](s));
      }).listen(PORT, host(10 + k, i));
  });
  createNet((s) => {
    s.on('error', () => undefined);
    s.once('data', () => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${oneLine.length}\r\n\r\n`);
      s.end(oneLine);
    });
  }).listen(PORT, host(20, 0));
  setTimeout(() => process.send?.('ready'), 500);
}

function virtual(vip: string, reals: string[], extra: string): string {
  return `virtual=${vip}:80\n${reals.map((r) => `\treal=${r}:${PORT} masq`).join('\n')}\n${extra}\n`;
}

/** The hostile kinds to run (`--only drip,regex`; all by default). */
const ONLY = (() => {
  const at = process.argv.indexOf('--only');
  return at >= 0 ? new Set(process.argv[at + 1]!.split(',')) : null;
})();
const wanted = (kind: string) => ONLY === null || ONLY.has(kind);

function config(logfile: string, hostile: boolean, sql: { host: string; port: number } | null): string {
  const http = '\tservice=http\n\tchecktype=negotiate\n\treceive="OK"\n\trequest="/"';
  let text = `logfile="${logfile}"\ncheckinterval=1\nnegotiatetimeout=2\nquiescent=no\n\n`;
  text += virtual(
    '10.1.0.1',
    Array.from({ length: HEALTHY }, (_x, i) => host(1, i)),
    http,
  );
  if (!hostile) return text;
  KINDS.forEach((kind, k) => {
    if (!wanted(kind)) return;
    text += virtual(
      `10.1.1.${k + 1}`,
      Array.from({ length: PER_KIND }, (_x, i) => host(10 + k, i)),
      http,
    );
  });
  if (wanted('regex'))
    bombs().forEach((pattern, i) => {
      const quoted = pattern.replace(/"/g, '\\"');
      text += virtual(
        `10.1.2.${i + 1}`,
        [host(20, 0)],
        `\tservice=http\n\tchecktype=negotiate\n\treceive="${quoted}"\n\trequest="/"`,
      );
    });
  if (sql && wanted('sql'))
    for (let i = 0; i < PER_KIND; i++)
      text +=
        `virtual=10.1.3.${i + 1}:3306\n\treal=${sql.host}:${sql.port} masq\n\tservice=mysql\n\tchecktype=negotiate\n` +
        `\tlogin="bench"\n\tpasswd="bench"\n\tdatabase="bench"\n\trequest="SELECT seq FROM seq_1_to_1000000000"\n`;
  return text;
}

function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

function scrape(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (b) => (body += b));
      res.on('end', () => resolve(body));
    });
    req.on('error', () => resolve(''));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

const metric = (text: string, name: string): number => {
  const m = new RegExp(`^${name} ([\\d.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  if (process.argv.includes('--serve-healthy')) return serveHealthy();
  if (process.argv.includes('--serve-hostile')) return serveHostile();
  const arg = (name: string, dflt: number) => {
    const at = process.argv.indexOf(name);
    const v = at >= 0 ? Number(process.argv[at + 1]) : dflt;
    if (!(v > 0)) throw new Error(`${name} wants a positive number`);
    return v;
  };
  const seconds = arg('--seconds', 300);
  const idleSeconds = arg('--idle', 30);
  const dir = mkdtempSync(join(tmpdir(), 'ld-hostile-'));
  const servers: ChildProcess[] = ['--serve-healthy', '--serve-hostile'].map((role) =>
    fork(__filename, [role, ...process.argv.slice(2)], { stdio: 'inherit' }),
  );
  await Promise.all(servers.map((s) => new Promise((r) => s.once('message', r))));
  let db: MariaDb | null = null;
  const noSql = MariaDb.missing();
  if (noSql === null)
    db = await MariaDb.start({
      host: `${NET}.30.1`,
      user: 'bench',
      password: 'bench',
      database: 'bench',
      setup: [],
    });
  const ipvsadm = spawnSync(process.execPath, [FAKE, '--install', join(dir, 'kernel')], {
    encoding: 'utf8',
  }).stdout.trim();
  const cfg = join(dir, 'hostile.cf');
  const log = join(dir, 'ldirectord.log');
  const sql = db ? { host: db.host, port: db.port } : null;
  writeFileSync(cfg, config(log, false, sql));
  const metricsPort = 9400 + Math.floor(Math.random() * 500);
  const env = { ...process.env, LDIRECTORD_IPVSADM: ipvsadm, LDIRECTORD_RUN_DIR: dir };
  // The command itself, as installed: its first line gives node the daemon's heap flags.
  // (NODE_OPTIONS=--cpu-prof in the environment shows where the daemon's time goes.)
  const started = spawnSync(CLI, ['--metrics', String(metricsPort), cfg, 'start'], { env, encoding: 'utf8' });
  if (started.status !== 0) throw new Error(`start failed: ${started.stderr}`);
  const pid = Number(readFileSync(join(dir, 'ldirectord.hostile.cf.pid'), 'utf8'));
  try {
    // Idle: the healthy reals only. The RSS it settles at is the baseline.
    const idle: number[] = [];
    for (let t = 0; t < idleSeconds; t += 2) {
      await sleep(2000);
      idle.push(rssMb(pid));
    }
    await scrape(metricsPort); // resets the lag figures
    const idleRss = Math.max(...idle.slice(Math.floor(idle.length / 2)));
    writeFileSync(cfg, config(log, true, sql));
    process.kill(pid, 'SIGHUP');
    // The hostile config must really be running, or the figures mean nothing.
    const show = () =>
      JSON.parse(spawnSync(process.execPath, [CLI, cfg, 'show', '--json'], { env, encoding: 'utf8' }).stdout) as {
        reloads: { reloads: number; lastReloadError: string | null };
        virtuals: Array<{ id: string; reals: Array<{ lastReason: string | null }> }>;
      };
    for (let i = 0; ; i++) {
      const st = show();
      if (st.reloads.lastReloadError) throw new Error(`the hostile config was refused: ${st.reloads.lastReloadError}`);
      if (st.reloads.reloads >= 1) break;
      if (i > 100) throw new Error('the hostile config was not loaded within 20 s');
      await sleep(200);
    }
    let maxRss = 0;
    let maxLagMs = 0;
    /** The highest delay of each 5 s window, to tell a one-off from a steady state. */
    const lags: number[] = [];
    let healthyDown = 0;
    /** Where the RSS goes: the JavaScript heap, and Buffers outside it. */
    let heapMb = 0;
    let externalMb = 0;
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until) {
      await sleep(5000);
      maxRss = Math.max(maxRss, rssMb(pid));
      const m = await scrape(metricsPort);
      const lag = metric(m, 'ldirectord_event_loop_lag_max_seconds') * 1000;
      lags.push(Math.round(lag));
      heapMb = Math.max(heapMb, metric(m, 'nodejs_heap_size_used_bytes') / MEBI);
      externalMb = Math.max(externalMb, metric(m, 'nodejs_external_memory_bytes') / MEBI);
      maxLagMs = Math.max(maxLagMs, lag);
      healthyDown = Math.max(
        healthyDown,
        (m.match(/^ldirectord_real_up\{virtual="tcp:10\.1\.0\.1:80",[^}]*\} 0$/gm) ?? []).length,
      );
    }
    // How the hostile checks ended: the last reason of each, from the daemon's own view.
    const endings: Record<string, number> = {};
    for (const v of show().virtuals) {
      if (v.id === 'tcp:10.1.0.1:80') continue;
      for (const r of v.reals) {
        const reason = (r.lastReason ?? 'no check yet').replace(/\d+(\.\d+)? ?(KiB|MiB|B|s)\b/g, 'N $2').slice(0, 100);
        endings[reason] = (endings[reason] ?? 0) + 1;
      }
    }
    process.stdout.write(
      JSON.stringify({
        bench: 'hostile',
        seconds,
        healthy_reals: HEALTHY,
        hostile_per_kind: PER_KIND,
        hostile_kinds: ONLY ? [...ONLY] : [...KINDS, 'regex', 'sql'],
        receive_patterns: 100,
        mysql_endless_rows: sql ? PER_KIND : `skipped: ${noSql}`,
        idle_rss_mb: idleRss,
        max_rss_mb: maxRss,
        rss_growth_mb: maxRss - idleRss,
        rss_growth_target_mb: 64,
        heap_used_max_mb: Math.round(heapMb),
        external_max_mb: Math.round(externalMb),
        event_loop_delay_max_ms: Math.round(maxLagMs * 10) / 10,
        event_loop_delay_target_ms: 50,
        event_loop_delay_max_per_5s_ms: lags,
        healthy_reals_seen_down: healthyDown,
        hostile_endings: endings,
      }) + '\n',
    );
  } finally {
    spawnSync(process.execPath, [CLI, cfg, 'stop'], { env });
    for (const s of servers) s.kill();
    await db?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
