/**
 * Health-check throughput and memory (a benchmark, not a test).
 *
 *   npx tsc -p test/tsconfig.json && node .test-build/bench/checks.js
 *
 * A child process serves a TCP listener and an HTTP server on 127.10.6.0/24 (so the
 * servers get their own core); this process runs checks through the real runner
 * (runProbe) with CONCURRENCY checks in flight, and prints one JSON line per figure:
 *   - connect checks per second;
 *   - HTTP negotiate checks per second (GET, a receive pattern, a connection per check,
 *     as the daemon makes them);
 *   - the RSS after 10,000 and after 100,000 HTTP checks (it must not grow), with the
 *     heap in use (after a full GC when run with node --expose-gc);
 *   - HTTPS negotiate checks per second (a connection and a TLS handshake per check).
 * Every request stays on this machine's loopback; every loop is bounded.
 */
import { fork } from 'node:child_process';
import { createServer as createNetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { runProbe } from '../src/checks/run';
import { compileReceive } from '../src/checks/receive';
import type { ProbeSpec } from '../src/checks/registry';
import { selfSigned } from '../test/helpers/tls';

const TCP_HOST = '127.10.6.1';
const HTTP_HOST = '127.10.6.2';
const HTTPS_HOST = '127.10.6.3';
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 200);
const CONNECT_CHECKS = Number(process.env.BENCH_CONNECT_CHECKS ?? 20_000);
const HTTP_CHECKS = Number(process.env.BENCH_HTTP_CHECKS ?? 100_000);
const TLS_CHECKS = Number(process.env.BENCH_TLS_CHECKS ?? 20_000);

interface Ports {
  tcp: number;
  http: number;
  https: number;
}

async function serve(): Promise<void> {
  const tcp = createNetServer((s) => {
    s.on('error', () => undefined);
    s.resume();
  });
  // A minimal HTTP responder (as bench/target.ts): node:http's server costs more per request
  // than the check does, and would be what this figure measured.
  const body = '<html>status: OK</html>\n';
  const response = Buffer.from(
    `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\nKeep-Alive: timeout=60\r\n\r\n${body}`,
  );
  const answer = (s: Socket) => {
    s.on('error', () => undefined);
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let end;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        buf = buf.slice(end + 4);
        s.write(response);
      }
    });
  };
  const web = createNetServer({ noDelay: true }, answer);
  const cert = await selfSigned('bench.invalid');
  if (typeof cert === 'string') throw new Error(cert);
  const secure = createTlsServer({ ...cert, noDelay: true }, answer);
  secure.on('tlsClientError', () => undefined);
  const port = (server: { address(): unknown }) => (server.address() as { port: number }).port;
  tcp.listen(0, TCP_HOST, () =>
    web.listen(0, HTTP_HOST, () =>
      secure.listen(0, HTTPS_HOST, () => {
        const ports: Ports = { tcp: port(tcp), http: port(web), https: port(secure) };
        process.send!(ports);
      }),
    ),
  );
  process.on('disconnect', () => process.exit(0));
}

/**
 * Run `total` checks, `CONCURRENCY` at a time; calls `at(n)` after each completion. Each
 * worker is one probe, as in the daemon: one spec object checked again and again.
 */
async function pump(
  total: number,
  make: () => ProbeSpec,
  at?: (done: number) => void,
): Promise<{ seconds: number; up: number; reasons: Map<string, number> }> {
  let started = 0;
  let done = 0;
  let up = 0;
  const reasons = new Map<string, number>();
  const t0 = performance.now();
  const worker = async () => {
    const spec = make();
    while (started < total) {
      started++;
      const r = await runProbe(spec);
      done++;
      if (r.up) up++;
      else reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
      at?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, total) }, worker));
  return { seconds: (performance.now() - t0) / 1000, up, reasons };
}

const mib = (n: number) => Math.round((n / (1024 * 1024)) * 10) / 10;
const print = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

const httpSpec = (url: string, host: string): ProbeSpec => ({
  kind: 'http',
  url,
  method: 'GET',
  hostHeader: host,
  proxy: null,
  receive: compileReceive('status: OK'),
  timeoutMs: 5000,
});

/** Connect, HTTP with its memory figures, HTTPS. */
async function checks(ports: Ports): Promise<void> {
  const connect = await pump(CONNECT_CHECKS, () => ({
    kind: 'connect',
    host: TCP_HOST,
    port: ports.tcp,
    timeoutMs: 5000,
  }));
  print({
    figure: 'connect_checks_per_second',
    value: Math.round(CONNECT_CHECKS / connect.seconds),
    checks: CONNECT_CHECKS,
    up: connect.up,
    concurrency: CONCURRENCY,
    down_reasons: Object.fromEntries(connect.reasons),
  });

  const url = `http://${HTTP_HOST}:${ports.http}/health`;
  const mem: Record<number, { rss: number; heap: number }> = {};
  const gc = (globalThis as { gc?: () => void }).gc;
  const http = await pump(
    HTTP_CHECKS,
    () => httpSpec(url, HTTP_HOST),
    (n) => {
      if (n === 10_000 || n === HTTP_CHECKS || n % 25_000 === 0) {
        gc?.();
        const m = process.memoryUsage();
        mem[n] = { rss: m.rss, heap: m.heapUsed };
      }
    },
  );
  print({
    figure: 'http_checks_per_second',
    value: Math.round(HTTP_CHECKS / http.seconds),
    checks: HTTP_CHECKS,
    up: http.up,
    concurrency: CONCURRENCY,
    down_reasons: Object.fromEntries(http.reasons),
  });
  for (const [n, m] of Object.entries(mem))
    print({
      figure: 'rss_mib_after_http_checks',
      checks: Number(n),
      value: mib(m.rss),
      heap_used_mib: mib(m.heap),
      gc_before: Boolean(gc),
    });

  const https = await pump(TLS_CHECKS, () => httpSpec(`https://${HTTPS_HOST}:${ports.https}/health`, HTTPS_HOST));
  print({
    figure: 'https_checks_per_second',
    value: Math.round(TLS_CHECKS / https.seconds),
    checks: TLS_CHECKS,
    up: https.up,
    concurrency: CONCURRENCY,
    down_reasons: Object.fromEntries(https.reasons),
  });
}

async function main(): Promise<void> {
  const child = fork(__filename, ['serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ports = await new Promise<Ports>((resolve) => child.once('message', (m) => resolve(m as Ports)));
  try {
    await checks(ports);
  } finally {
    child.disconnect();
  }
}

const fail = (e: unknown) => {
  console.error(e);
  process.exitCode = 1;
};
if (process.argv[2] === 'serve') serve().catch(fail);
else main().catch(fail);
