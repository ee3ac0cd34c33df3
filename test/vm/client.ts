/**
 * The traffic test's client, run in the client namespace (`ip netns exec ldcN node client.js
 * HOST PORT GAP_MS`): one new TCP connection after another to the virtual service, each an
 * HTTP/1.0 GET, until SIGTERM. Every connection is reported on stdout as one JSON line:
 *   {"t": start ms, "e": end ms, "real": "<body>"}   answered (the body names the real)
 *   {"t": start ms, "e": end ms, "err": "ECONNREFUSED"}   failed (or "timeout", "empty")
 */
import { connect } from 'node:net';

const [host, portText, gapText] = process.argv.slice(2);
const port = Number(portText);
const gap = Number(gapText ?? '10');
let stopping = false;
process.on('SIGTERM', () => (stopping = true));

const report = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

function once(): Promise<void> {
  const t = Date.now();
  return new Promise((resolve) => {
    let buf = '';
    let done = false;
    const finish = (o: object) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      report({ t, e: Date.now(), ...o });
      resolve();
    };
    const s = connect({ host: host!, port });
    const timer = setTimeout(() => finish({ err: 'timeout' }), 3000);
    s.setEncoding('utf8');
    s.on('connect', () => s.write('GET / HTTP/1.0\r\nHost: vip\r\n\r\n'));
    s.on('data', (d: string) => (buf += d));
    s.on('error', (e: NodeJS.ErrnoException) => finish({ err: e.code ?? e.message }));
    s.on('close', () => {
      const body = buf.split('\r\n\r\n')[1];
      finish(body ? { real: body } : { err: 'empty' });
    });
  });
}

async function main(): Promise<void> {
  while (!stopping) {
    await once();
    await new Promise((r) => setTimeout(r, gap));
  }
  process.exit(0);
}

void main();
