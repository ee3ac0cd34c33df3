/**
 * Hostile real servers (issue 8, item 1), as a benchmark: what do they cost the others?
 * A benchmark, not a test: it prints one JSON line and asserts nothing (the check tests
 * assert the results; this measures delays and memory).
 *
 * In a separate process: servers that accept and never answer, answer one byte a second,
 * send an endless body, send 10 MiB, speak invalid HTTP, stall the TLS handshake, reset
 * every connection; and a fast healthy server. Here: the real check code (runProbe)
 * checks every hostile real once a second, as the daemon would (8 reals of each kind), and
 * 100 healthy reals (distinct origins) once a second each. Printed: the healthy checks'
 * latency (p50, p99, max) and the event loop's delay, alone and with the hostile reals,
 * how each hostile check ended, and heap/RSS before and after.
 *
 *   node --expose-gc .test-build/bench/hostile.js [--seconds 30]
 */
import { fork } from 'node:child_process';
import { createServer as createNet, type Socket } from 'node:net';
import { createServer as createHttp } from 'node:http';
import { runProbe } from '../src/checks/run';
import { closeHttpAgent } from '../src/checks/http';
import type { HttpSpec } from '../src/checks/http';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const HOST = '127.40.9.1';
const PORTS = {
  healthy: 9001,
  silent: 9002,
  drip: 9003,
  endless: 9004,
  big: 9005,
  invalid: 9006,
  tlsstall: 9007,
  reset: 9008,
};

const HEALTHY = 100;
function servers(): void {
  // A hostile server must not fall over itself: ignore socket errors (resets, aborts).
  process.on('uncaughtException', () => undefined);
  for (let i = 0; i < HEALTHY; i++) createHttp((_q, r) => r.end('OK')).listen(PORTS.healthy + 100 + i, HOST);
  createNet(() => undefined).listen(PORTS.silent, HOST);
  createNet((s) => {
    const msg = 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nOKOKOKOKOK';
    let i = 0;
    const t = setInterval(() => (i < msg.length ? s.write(msg[i++]!) : clearInterval(t)), 1000);
    s.on('close', () => clearInterval(t));
    s.on('error', () => clearInterval(t));
  }).listen(PORTS.drip, HOST);
  createHttp((_q, r) => {
    r.writeHead(200);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pump = () => {
      while (r.write(chunk));
    };
    r.on('drain', pump);
    pump();
  }).listen(PORTS.endless, HOST);
  const big = Buffer.alloc(10 * 1024 * 1024, 'y');
  createHttp((_q, r) => r.end(big)).listen(PORTS.big, HOST);
  createNet((s) => s.end('SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n')).listen(PORTS.invalid, HOST);
  createNet(() => undefined).listen(PORTS.tlsstall, HOST); // takes the ClientHello, answers nothing
  createNet((s: Socket) => s.resetAndDestroy()).listen(PORTS.reset, HOST);
  setTimeout(() => process.send?.('ready'), 300);
}

const spec = (port: number, https = false, receive: RegExp | null = /OK/): HttpSpec => ({
  kind: 'http',
  url: `${https ? 'https' : 'http'}://${HOST}:${port}/`,
  method: 'GET',
  hostHeader: null,
  proxy: null,
  receive,
  timeoutMs: 2000,
});

function q(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]! : NaN;
}

/** Run `check` once a second (like a probe: never overlapping itself) until `until`. */
async function every(until: number, check: () => Promise<void>): Promise<void> {
  await new Promise((r) => setTimeout(r, Math.random() * 1000)); // spread the phases
  while (Date.now() < until) {
    const t = Date.now();
    await check();
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - t))));
  }
}

async function healthyLatencies(seconds: number): Promise<{ ms: number[]; lag: IntervalHistogram }> {
  const ms: number[] = [];
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const until = Date.now() + seconds * 1000;
  // One spec per real, made once: the HTTP check keeps a real's connection per spec
  // object, as the daemon's probes do (a new object per check would be a new connection).
  await Promise.all(
    Array.from({ length: HEALTHY }, (_x, i) => {
      const real = spec(PORTS.healthy + 100 + i);
      return every(until, async () => {
        const r = await runProbe(real);
        if (r.up) ms.push(r.ms);
      });
    }),
  );
  lag.disable();
  return { ms, lag };
}

async function main(): Promise<void> {
  if (process.argv.includes('--serve')) return servers();
  // Without --seconds, indexOf is -1 and argv[0] (node's path) would be read as the number.
  const at = process.argv.indexOf('--seconds');
  const seconds = at >= 0 ? Number(process.argv[at + 1]) : 20;
  if (!(seconds > 0)) throw new Error(`--seconds wants a positive number, not ${process.argv[at + 1]}`);
  const child = fork(__filename, ['--serve'], { stdio: 'inherit' });
  await new Promise((r) => child.once('message', r));
  const mem = () => {
    (global as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    return { heap_mb: Math.round(m.heapUsed / 104857.6) / 10, rss_mb: Math.round(m.rss / 1048576) };
  };
  const quiet = await healthyLatencies(Math.min(10, seconds));
  const before = mem();
  // 8 hostile reals of each kind, each checked once a second, as the daemon would.
  const endings = new Map<string, Map<string, number>>();
  const until = Date.now() + seconds * 1000;
  const hostile = Object.entries(PORTS).filter(([k]) => k !== 'healthy');
  const loops = hostile.flatMap(([kind, port]) =>
    Array.from({ length: 8 }, () => {
      const real = spec(port, kind === 'tlsstall');
      return every(until, async () => {
        const r = await runProbe(real);
        const reason = r.reason.replace(/\d+(\.\d+)? ?(KiB|MiB|B)\b/, 'N $2');
        const m = endings.get(kind) ?? new Map<string, number>();
        m.set(reason, (m.get(reason) ?? 0) + 1);
        endings.set(kind, m);
      });
    }),
  );
  const loaded = await healthyLatencies(seconds);
  await Promise.all(loops);
  const after = mem();
  child.kill();
  await closeHttpAgent();
  const stats = (x: { ms: number[]; lag: IntervalHistogram }) => ({
    checks: x.ms.length,
    p50_ms: q(x.ms, 0.5),
    p99_ms: q(x.ms, 0.99),
    max_ms: Math.max(...x.ms),
    loop_delay_p99_ms: Math.round(x.lag.percentile(99) / 1e5) / 10,
    loop_delay_max_ms: Math.round(x.lag.max / 1e5) / 10,
  });
  process.stdout.write(
    JSON.stringify({
      bench: 'hostile',
      healthy_alone: stats(quiet),
      healthy_with_hostiles: stats(loaded),
      hostile_endings: Object.fromEntries([...endings].map(([k, m]) => [k, Object.fromEntries(m)])),
      memory_before: before,
      memory_after: after,
    }) + '\n',
  );
}

void main();
