/**
 * Kept-alive connections between the checks of a real (http.ts): reused while the server
 * lives, and never hiding a server that is gone.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { closeHttpAgent } from '../../src/checks/http';
import { runProbe } from '../../src/checks/run';
import type { HttpSpec } from '../../src/checks/http';

const H = '127.10.2.1';
const spec = (port: number): HttpSpec => ({
  kind: 'http',
  url: `http://${H}:${port}/`,
  method: 'GET',
  hostHeader: null,
  proxy: null,
  receive: null,
  timeoutMs: 3000,
});

function server(keepAliveTimeout: number): Promise<{ srv: Server; port: number; conns: () => number }> {
  return new Promise((resolve) => {
    let conns = 0;
    const srv = createServer((_req, res) => res.end('OK'));
    srv.keepAliveTimeout = keepAliveTimeout;
    srv.on('connection', () => conns++);
    srv.listen(0, H, () => resolve({ srv, port: (srv.address() as { port: number }).port, conns: () => conns }));
  });
}

describe('checks: http keep-alive', function () {
  this.timeout(20000);
  afterEach(() => closeHttpAgent());

  it('reuses one connection for the successive checks of a real', async () => {
    const { srv, port, conns } = await server(30_000);
    const probe = spec(port); // a probe's spec object is stable: its connection lives with it
    for (let i = 0; i < 5; i++) assert.equal((await runProbe(probe)).up, true);
    assert.equal(conns(), 1);
    srv.closeAllConnections();
    srv.close();
  });

  it('a server that closes its idle connections: the next check still succeeds (fresh connection)', async () => {
    const { srv, port, conns } = await server(100);
    const probe = spec(port);
    for (let i = 0; i < 3; i++) {
      assert.equal((await runProbe(probe)).up, true);
      await new Promise((r) => setTimeout(r, 300)); // the server closes the idle socket meanwhile
    }
    assert.equal(conns(), 3);
    srv.close();
  });

  it('a server that closes its kept connection right as the check is sent: retried once, still up', async () => {
    const { srv, port } = await server(30_000);
    const probe = spec(port);
    assert.equal((await runProbe(probe)).up, true);
    // Destroy the server side of the kept connection without the client noticing first.
    srv.closeAllConnections();
    assert.equal((await runProbe(probe)).up, true);
    srv.close();
  });

  it('two probes of the same server keep separate connections: one hanging does not hold the other', async () => {
    let hang = true;
    const { createServer: mk } = await import('node:http');
    const srv = mk((req, res) => {
      if (req.url === '/slow' && hang) return; // never answers
      res.end('OK');
    });
    await new Promise<void>((r) => srv.listen(0, H, r));
    const port = (srv.address() as { port: number }).port;
    const slow: HttpSpec = { ...spec(port), url: `http://${H}:${port}/slow`, timeoutMs: 2000 };
    const fast: HttpSpec = { ...spec(port), url: `http://${H}:${port}/fast` };
    let slowDone = false;
    const slowCheck = runProbe(slow).finally(() => (slowDone = true));
    const r = await runProbe(fast);
    assert.equal(r.up, true);
    assert.equal(slowDone, false, 'the fast probe answered while the other still hung: not queued behind it');
    assert.match((await slowCheck).reason, /timed out after 2 s/);
    hang = false;
    srv.closeAllConnections();
    srv.close();
  });

  it('a server that stops (http.Server.close) is down at the next check, although a connection was kept', async () => {
    const { srv, port } = await server(30_000);
    const probe = spec(port);
    assert.equal((await runProbe(probe)).up, true);
    await new Promise<void>((r) => srv.close(() => r())); // Node closes idle connections too
    const r = await runProbe(probe);
    assert.equal(r.up, false);
    assert.match(r.reason, /ECONNREFUSED/);
  });

  it('a server process that dies (connections reset) is down at the next check', async () => {
    const { srv, port } = await server(30_000);
    const probe = spec(port);
    assert.equal((await runProbe(probe)).up, true);
    srv.close();
    srv.closeAllConnections();
    const r = await runProbe(probe);
    assert.equal(r.up, false);
  });
});
