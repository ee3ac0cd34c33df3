/**
 * checktype=ping through the system ping: a loopback address answers; a blackholed one
 * (every packet dropped by an nftables rule of the test's own) never does, so only the
 * attempts' waits and the deadline end the check.
 */
import assert from 'node:assert/strict';
import { runProbe } from '../../src/checks/run';
import type { PingSpec } from '../../src/checks/ping';
import { requirePart, which } from '../helpers/env';
import { readdirSync, readFileSync } from 'node:fs';
import { blackhole, eventually } from '../helpers/net';

/** Pids of ping processes aimed at host. */
function pingsTo(host: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0');
      if (/(^|\/)ping$/.test(argv[0] ?? '') && argv.includes(host)) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const BLACK = '127.10.255.3';

describe('checks: ping', function () {
  this.timeout(20000);
  const spec = (host: string, over: Partial<PingSpec> = {}): PingSpec => ({
    kind: 'ping',
    host,
    ipv6: false,
    count: 1,
    timeoutMs: 2000,
    ...over,
  });

  before(function () {
    requirePart(this, which('ping') ? null : 'ping is not installed (Debian iputils-ping)');
  });

  it('is up when 127.0.0.1 answers', async () => {
    const r = await runProbe(spec('127.0.0.1'));
    assert.equal(r.up, true);
    assert.match(r.reason, /^ping reply from 127\.0\.0\.1( in [\d.]+ ms)?$/);
  });

  it('is up for an address of our own loopback range', async () => {
    const r = await runProbe(spec('127.10.4.1', { count: 3, timeoutMs: 3000 }));
    assert.equal(r.up, true);
  });

  it('is up for ::1 (IPv6)', async function () {
    const r = await runProbe(spec('::1', { ipv6: true }));
    if (!r.up && /unreachable|Cannot assign|not available/i.test(r.reason))
      return requirePart(this, `no IPv6 loopback here (${r.reason})`);
    assert.equal(r.up, true, r.reason);
  });

  describe('an address that never answers', () => {
    let remove: (() => Promise<void>) | undefined;
    before(async function () {
      const b = await blackhole(BLACK);
      if (typeof b === 'string') return requirePart(this, b);
      remove = b.remove;
    });
    after(async () => {
      await remove?.();
    });

    it('is down at the deadline, after every attempt', async () => {
      const r = await runProbe(spec(BLACK, { count: 2, timeoutMs: 1000 }));
      assert.equal(r.up, false);
      assert.match(r.reason, /^(no ping reply from 127\.10\.255\.3 \(2 attempts\)|timed out after 1 s)$/);
      assert.ok(await eventually(() => pingsTo(BLACK).length === 0), 'a ping was left running');
    });

    it('kills the ping when the daemon stops', async () => {
      const stop = new AbortController();
      const p = runProbe(spec(BLACK, { timeoutMs: 10000 }), stop.signal);
      setTimeout(() => stop.abort(), 200);
      const r = await p;
      assert.deepEqual([r.up, r.reason], [false, 'stopped']);
      assert.ok(await eventually(() => pingsTo(BLACK).length === 0), `ping still running: ${pingsTo(BLACK).join(' ')}`);
    });
  });
});
