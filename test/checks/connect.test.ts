/**
 * checktype=connect: a TCP connect to a listening port, a closed port and a silent
 * (blackholed) address; and the UDP "connect" of checktype=N on a UDP virtual.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { runProbe } from '../../src/checks/run';
import type { ConnectSpec } from '../../src/checks/connect';
import { requirePart } from '../helpers/env';
import { blackhole, closedPort, closeServer, eventually, listen, tcpSocketsTo } from '../helpers/net';

const HOST = '127.10.2.1';
const BLACK = '127.10.255.1';

describe('checks: connect', function () {
  this.timeout(20000);
  let srv: Server;
  let port: number;
  let accepted = 0;
  const spec = (over: Partial<ConnectSpec>): ConnectSpec => ({
    kind: 'connect',
    host: HOST,
    port,
    timeoutMs: 2000,
    ...over,
  });

  before(async () => {
    srv = createServer((s) => {
      accepted++;
      s.on('error', () => undefined);
      s.resume();
    });
    port = await listen(srv, HOST);
  });
  after(() => closeServer(srv));

  it('is up on an open port, and closes the connection at once', async () => {
    const before = accepted;
    const r = await runProbe(spec({}));
    assert.deepEqual([r.up, r.reason], [true, `connected to port ${port}`]);
    assert.ok(await eventually(() => accepted === before + 1));
    assert.ok(
      await eventually(() => tcpSocketsTo(HOST, port).every((s) => s.state !== '01')),
      'the connection stayed established',
    );
  });

  it('is down with connect ECONNREFUSED on a closed port', async () => {
    const r = await runProbe(spec({ port: await closedPort(HOST) }));
    assert.deepEqual([r.up, r.reason], [false, 'connect ECONNREFUSED']);
  });

  it('is up on IPv6 ::1', async function () {
    const s6 = createServer((s) => s.destroy());
    let p6: number;
    try {
      p6 = await listen(s6, '::1');
    } catch (e) {
      return requirePart(this, `cannot listen on ::1 (${(e as Error).message})`);
    }
    const r = await runProbe(spec({ host: '::1', port: p6 }));
    await closeServer(s6);
    assert.deepEqual([r.up, r.reason], [true, `connected to port ${p6}`]);
  });

  describe('a blackholed address (every packet dropped)', () => {
    let remove: (() => Promise<void>) | undefined;
    before(async function () {
      const b = await blackhole(BLACK);
      if (typeof b === 'string') return requirePart(this, b);
      remove = b.remove;
    });
    after(async () => {
      await remove?.();
    });

    it('times out at the deadline and abandons the connect', async () => {
      const r = await runProbe(spec({ host: BLACK, port: 80, timeoutMs: 500 }));
      assert.deepEqual([r.up, r.reason], [false, 'timed out after 0.5 s']);
      assert.ok(await eventually(() => tcpSocketsTo(BLACK, 80).length === 0), 'a SYN_SENT socket was left behind');
    });

    it('stops when the daemon stops', async () => {
      const stop = new AbortController();
      const p = runProbe(spec({ host: BLACK, port: 80, timeoutMs: 10000 }), stop.signal);
      setTimeout(() => stop.abort(), 100);
      const r = await p;
      assert.deepEqual([r.up, r.reason], [false, 'stopped']);
    });
  });

  it('UDP: a connected datagram socket is up when there is a route (as Perl)', async () => {
    const r = await runProbe(spec({ port: 53, udp: true }));
    assert.deepEqual([r.up, r.reason], [true, 'udp socket connected to port 53']);
  });
});
