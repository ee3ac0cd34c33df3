/**
 * Kept-alive connections between the checks of a real (http.ts): reused while the server
 * lives, and never hiding a server that is gone.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { closeHttpAgent } from '../../src/checks/http';
import { runProbe } from '../../src/checks/run';
import type { HttpSpec } from '../../src/checks/types';

const H = '127.10.2.1';
const spec = (port: number): HttpSpec => ({ kind: 'http', url: `http://${H}:${port}/`, method: 'GET', hostHeader: null, proxy: null, receive: null, timeoutMs: 3000 });

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
    for (let i = 0; i < 5; i++) assert.equal((await runProbe(spec(port))).up, true);
    assert.equal(conns(), 1);
    srv.closeAllConnections();
    srv.close();
  });

  it('a server that closes its idle connections: the next check still succeeds (fresh connection)', async () => {
    const { srv, port, conns } = await server(100);
    for (let i = 0; i < 3; i++) {
      assert.equal((await runProbe(spec(port))).up, true);
      await new Promise((r) => setTimeout(r, 300)); // the server closes the idle socket meanwhile
    }
    assert.equal(conns(), 3);
    srv.close();
  });

  it('a server that closes its kept connection right as the check is sent: retried once, still up', async () => {
    const { srv, port } = await server(30_000);
    assert.equal((await runProbe(spec(port))).up, true);
    // Destroy the server side of the kept connection without the client noticing first.
    srv.closeAllConnections();
    assert.equal((await runProbe(spec(port))).up, true);
    srv.close();
  });

  it('a server that stops (http.Server.close) is down at the next check, although a connection was kept', async () => {
    const { srv, port } = await server(30_000);
    assert.equal((await runProbe(spec(port))).up, true);
    await new Promise<void>((r) => srv.close(() => r())); // Node closes idle connections too
    const r = await runProbe(spec(port));
    assert.equal(r.up, false);
    assert.match(r.reason, /ECONNREFUSED/);
  });

  it('a server process that dies (connections reset) is down at the next check', async () => {
    const { srv, port } = await server(30_000);
    assert.equal((await runProbe(spec(port))).up, true);
    srv.close();
    srv.closeAllConnections();
    const r = await runProbe(spec(port));
    assert.equal(r.up, false);
  });
});
