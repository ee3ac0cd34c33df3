/**
 * Hostile real servers against the whole daemon (issue 17), as a benchmark: a benchmark
 * prints figures and asserts nothing (the check and daemon tests assert the behaviour).
 *
 *   npm run bench:hostile -- [--seconds 300] [--idle 30]
 *
 * A child process serves, on 127.41.0.0/16:
 *   - 100 healthy HTTP reals (the ones whose checks must not be delayed);
 *   - hostile reals, 20 of each kind: a 1 MiB body in 1-byte chunks, an endless body,
 *     10 MiB of headers, a server that accepts and never answers, invalid HTTP;
 *   - one real with a 1 MiB one-line body that 100 virtual services check with 100
 *     different receive patterns made to make a backtracking engine take forever
 *     (`.*OK`, `[^<]*</html>`, `(a+)+$`, ...);
 *   - with MariaDB installed, a throwaway server that 20 mysql checks ask for endless rows.
 * The daemon runs in the foreground (`-d`) with the recording ipvsadm and `--metrics`.
 * First with only the healthy reals for `--idle` seconds (its idle RSS), then, after a HUP,
 * with every hostile real too for `--seconds`. Printed, one JSON line: idle RSS, the
 * highest RSS under attack and the growth (target ≤ 64 MB), the event loop's highest delay
 * under attack (every check start waits at most that long; target ≤ 50 ms), whether every
 * healthy real stayed up, and how the hostile checks ended (from the daemon's log).
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
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
const PER_KIND = 20;
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
  for (let i = 0; out.length < 100; i++) out.push(`${base[i % base.length]}${i}`);
  return out;
}

const host = (group: number, i: number) => `${NET}.${group}.${i + 1}`;

function serve(): void {
  process.on('uncaughtException', () => undefined); // a hostile server must not fall over itself
  for (let i = 0; i < HEALTHY; i++) createHttp((_q, r) => r.end('OK')).listen(PORT, host(1, i));
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

function config(logfile: string, hostile: boolean, sql: { host: string; port: number } | null): string {
  const http = '\tservice=http\n\tchecktype=negotiate\n\treceive="OK"\n\trequest="/"';
  let text = `logfile="${logfile}"\ncheckinterval=1\nnegotiatetimeout=2\nquiescent=no\n\n`;
  text += virtual(
    '10.1.0.1',
    Array.from({ length: HEALTHY }, (_x, i) => host(1, i)),
    http,
  );
  if (!hostile) return text;
  KINDS.forEach((_kind, k) => {
    text += virtual(
      `10.1.1.${k + 1}`,
      Array.from({ length: PER_KIND }, (_x, i) => host(10 + k, i)),
      http,
    );
  });
  bombs().forEach((pattern, i) => {
    const quoted = pattern.replace(/"/g, '\\"');
    text += virtual(
      `10.1.2.${i + 1}`,
      [host(20, 0)],
      `\tservice=http\n\tchecktype=negotiate\n\treceive="${quoted}"\n\trequest="/"`,
    );
  });
  if (sql)
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
  if (process.argv.includes('--serve')) return serve();
  const arg = (name: string, dflt: number) => {
    const at = process.argv.indexOf(name);
    const v = at >= 0 ? Number(process.argv[at + 1]) : dflt;
    if (!(v > 0)) throw new Error(`${name} wants a positive number`);
    return v;
  };
  const seconds = arg('--seconds', 300);
  const idleSeconds = arg('--idle', 30);
  const dir = mkdtempSync(join(tmpdir(), 'ld-hostile-'));
  const servers: ChildProcess = fork(__filename, ['--serve'], { stdio: 'inherit' });
  await new Promise((r) => servers.once('message', r));
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
  const daemon = spawn(process.execPath, [CLI, '-d', '--metrics', String(metricsPort), cfg, 'start'], {
    env: { ...process.env, LDIRECTORD_IPVSADM: ipvsadm, LDIRECTORD_RUN_DIR: dir },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const pid = daemon.pid!;
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
    let maxRss = 0;
    let maxLagMs = 0;
    let healthyDown = 0;
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until) {
      await sleep(5000);
      maxRss = Math.max(maxRss, rssMb(pid));
      const m = await scrape(metricsPort);
      maxLagMs = Math.max(maxLagMs, metric(m, 'ldirectord_event_loop_lag_max_seconds') * 1000);
      healthyDown = Math.max(
        healthyDown,
        (m.match(/^ldirectord_real_up\{virtual="tcp:10\.1\.0\.1:80",[^}]*\} 0$/gm) ?? []).length,
      );
    }
    const endings: Record<string, number> = {};
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      const m = /Real server down: \S+ \((\S+)\): (.*)$/.exec(line) ?? /failed: (.*)$/.exec(line);
      if (!m) continue;
      const reason = (m[2] ?? m[1]!).replace(/\d+(\.\d+)? ?(KiB|MiB|B|s)\b/g, 'N $2').slice(0, 100);
      endings[reason] = (endings[reason] ?? 0) + 1;
    }
    process.stdout.write(
      JSON.stringify({
        bench: 'hostile',
        seconds,
        healthy_reals: HEALTHY,
        hostile_reals: KINDS.length * PER_KIND + 100 + (sql ? PER_KIND : 0),
        receive_patterns: 100,
        mysql_endless_rows: sql ? PER_KIND : `skipped: ${noSql}`,
        idle_rss_mb: idleRss,
        max_rss_mb: maxRss,
        rss_growth_mb: maxRss - idleRss,
        rss_growth_target_mb: 64,
        event_loop_delay_max_ms: Math.round(maxLagMs * 10) / 10,
        event_loop_delay_target_ms: 50,
        healthy_reals_seen_down: healthyDown,
        hostile_endings: endings,
      }) + '\n',
    );
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    servers.kill();
    await db?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
