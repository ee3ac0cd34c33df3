/** UDP "connect" (checktype=N on a UDP virtual): up unless the socket cannot connect. */
import assert from 'node:assert/strict';
import { runProbe } from '../../src/checks/run';

describe('checks: udp connect', () => {
  it('is up for a routable address (a UDP connect sends nothing)', async () => {
    const r = await runProbe({ kind: 'connect', host: '127.0.0.1', port: 9, udp: true, timeoutMs: 1000 });
    assert.equal(r.up, true, r.reason);
  });
  it('is down when the connect fails (broadcast address without SO_BROADCAST)', async () => {
    const r = await runProbe({ kind: 'connect', host: '255.255.255.255', port: 9, udp: true, timeoutMs: 1000 });
    assert.equal(r.up, false);
    assert.match(r.reason, /^udp connect E/);
  });
});
