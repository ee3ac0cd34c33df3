/**
 * Network helpers for the check tests: listening on a given loopback address, and a
 * "blackholed" loopback address whose packets are dropped (so a connect, a TLS handshake
 * or a ping gets no answer at all and only the deadline ends it).
 *
 * Addresses: the check tests use 127.10.0.0/16 only (other test areas use other ranges),
 * so every server and every dropped packet stays on this machine.
 */
import { request } from 'node:http';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { promisify } from 'node:util';
import { which } from './env';

const run = promisify(execFile);

/** Listen on host (port 0 = any free port) and return the port. */
export function listen(server: Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
}

/** A port on host where nothing listens (bound, then released). */
export async function closedPort(host: string): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  const port = await listen(s, host);
  await new Promise((r) => s.close(r));
  return port;
}

export function closeServer(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!server || !server.listening) return resolve();
    server.close(() => resolve());
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}

/**
 * Drop every packet to `addr` (an address in 127.10.255.0/24) with an nftables table of
 * our own, so nothing else on the machine is affected. Returns a remover, or a reason
 * string when it cannot be done here (no nft, no CAP_NET_ADMIN).
 */
export async function blackhole(addr: string): Promise<{ remove: () => Promise<void> } | string> {
  if (!/^127\.10\.255\.\d+$/.test(addr)) throw new Error(`blackhole: ${addr} is outside 127.10.255.0/24`);
  const nft = which('nft');
  if (!nft) return 'nft (Debian nftables) is not installed';
  const table = `ldirectord_test_${addr.replace(/\./g, '_')}`;
  await run(nft, ['delete', 'table', 'inet', table]).catch(() => undefined);
  try {
    await run(nft, ['add', 'table', 'inet', table]);
    await run(nft, ['add', 'chain', 'inet', table, 'input', '{ type filter hook input priority 0 ; policy accept ; }']);
    await run(nft, ['add', 'rule', 'inet', table, 'input', 'ip', 'daddr', addr, 'drop']);
  } catch (e) {
    await run(nft, ['delete', 'table', 'inet', table]).catch(() => undefined);
    return `cannot add an nftables drop rule (${(e as Error).message.split('\n')[0]})`;
  }
  return {
    remove: () =>
      run(nft, ['delete', 'table', 'inet', table]).then(
        () => undefined,
        () => undefined,
      ),
  };
}

/** TCP sockets of this machine to addr:port (any state), from /proc/net/tcp. */
export function tcpSocketsTo(addr: string, port?: number): { state: string }[] {
  const hex = addr
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .reverse()
    .join('')
    .toUpperCase();
  const out: { state: string }[] = [];
  for (const line of readFileSync('/proc/net/tcp', 'latin1').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const [rip, rport] = f[2]!.split(':');
    if (rip === hex && (port === undefined || parseInt(rport!, 16) === port)) out.push({ state: f[3]! });
  }
  return out;
}

/** Wait until cond() holds, up to ms; returns whether it did. */
export async function eventually(cond: () => boolean, ms = 2000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

/** GET /metrics from the daemon's endpoint on 127.0.0.1:`port`. */
export function scrapeMetrics(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (b) => (body += b));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .on('timeout', function (this: { destroy(e: Error): void }) {
        this.destroy(new Error('no answer from /metrics within 5 s'));
      })
      .end();
  });
}
