/**
 * A connection per check (http.ts, http1.ts): every check proves the real accepts a new
 * connection, as the original's (LWP, `Connection: close`) did. A real whose listener is
 * gone while its open connections are still served is down at its next check; one that
 * closes or resets is down too, and a slow probe holds no other.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { runProbe } from '../../src/checks/run';
import type { HttpSpec } from '../../src/checks/http';
import { eventually } from '../helpers/net';

const H = '127.10.2.1';
const spec = (port: number, path = '/'): HttpSpec => ({
  kind: 'http',
  url: `http://${H}:${port}${path}`,
  method: 'GET',
  hostHeader: null,
  proxy: null,
  receive: null,
  timeoutMs: 3000,
});

function server(): Promise<{ srv: Server; port: number; conns: () => number; open: Set<Socket> }> {
  return new Promise((resolve) => {
    let conns = 0;
    const open = new Set<Socket>();
    const srv = createServer((_req, res) => res.end('OK'));
    srv.keepAliveTimeout = 30_000;
    srv.on('connection', (s: Socket) => {
      conns++;
      open.add(s);
      s.on('close', () => open.delete(s));
    });
    srv.listen(0, H, () => resolve({ srv, port: (srv.address() as { port: number }).port, conns: () => conns, open }));
  });
}

describe('checks: http, a connection per check', function () {
  this.timeout(20000);

  it('opens a new connection for every check and closes it', async () => {
    const { srv, port, conns, open } = await server();
    const probe = spec(port);
    for (let i = 0; i < 5; i++) assert.equal((await runProbe(probe)).up, true);
    assert.equal(conns(), 5);
    assert.ok(await eventually(() => open.size === 0), 'every check closed its connection');
    srv.close();
  });

  it('a real whose listener is gone but whose open connections are still served is down at its next check', async () => {
    // A graceful shutdown or a crashed listener: an established client connection still gets
    // answers, new connections are refused.
    const served: Socket[] = [];
    const lst = createNetServer((s) => {
      served.push(s);
      s.on('error', () => undefined);
      s.on('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK'));
    });
    await new Promise<void>((r) => lst.listen(0, H, r));
    const port = (lst.address() as { port: number }).port;
    const probe = spec(port);
    assert.equal((await runProbe(probe)).up, true);
    // A client of its own that keeps its connection open, and is still served afterwards.
    const { connect } = await import('node:net');
    const client = connect(port, H);
    await new Promise<void>((r) => client.once('connect', () => r()));
    lst.close(); // no new connections from here on
    const answer = new Promise<string>((r) => client.once('data', (b) => r(b.toString())));
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(await answer, /^HTTP\/1\.1 200 OK/, 'the open connection is still served');
    const r = await runProbe(probe);
    assert.deepEqual([r.up, r.cause, r.reason], [false, 'refused', 'connect ECONNREFUSED']);
    client.destroy();
    for (const s of served) s.destroy();
  });

  it('a server that stops is down at the next check', async () => {
    const { srv, port } = await server();
    const probe = spec(port);
    assert.equal((await runProbe(probe)).up, true);
    await new Promise<void>((r) => srv.close(() => r()));
    const r = await runProbe(probe);
    assert.equal(r.up, false);
    assert.match(r.reason, /ECONNREFUSED/);
  });

  it('two probes of the same server: one hanging does not hold the other', async () => {
    let hang = true;
    const srv = createServer((req, res) => {
      if (req.url === '/slow' && hang) return; // never answers
      res.end('OK');
    });
    await new Promise<void>((r) => srv.listen(0, H, r));
    const port = (srv.address() as { port: number }).port;
    const slow: HttpSpec = { ...spec(port, '/slow'), timeoutMs: 2000 };
    let slowDone = false;
    const slowCheck = runProbe(slow).finally(() => (slowDone = true));
    const r = await runProbe(spec(port, '/fast'));
    assert.equal(r.up, true);
    assert.equal(slowDone, false, 'the fast probe answered while the other still hung: not queued behind it');
    assert.match((await slowCheck).reason, /timed out after 2 s/);
    hang = false;
    srv.closeAllConnections();
    srv.close();
  });
});
