/**
 * The engine's paths that keep large configs cheap, in fake time against the fake kernel
 * (which, like the real adapter, returns the same table object for the same text):
 * - a periodic resync of a table nobody touched reads it and diffs nothing;
 * - a change by hand is still seen and repaired, also when a partial reconcile (one
 *   virtual's transition) read the drifted table first;
 * - a reload through carryOver keeps the unchanged virtuals' objects, their checks'
 *   state and timing, and reconciles only what changed.
 */
import assert from 'node:assert/strict';
import { carryOver } from '../../src/parser/carry-over';
import { config } from '../helpers/config';
import { harness } from './harness';

const two = (w = 5) => `
checkinterval=1
quiescent=no
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq
	real=127.0.0.3:8080 masq ${w}
	service=http
virtual=10.0.0.2:80
	real=127.0.0.4:8080 masq
	service=http
`;
const servers = { '127.0.0.2': 'up', '127.0.0.3': 'up', '127.0.0.4': 'up' } as const;
const FULL =
  '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5\n-A -t 10.0.0.2:80 -s wrr\n-a -t 10.0.0.2:80 -r 127.0.0.4:8080 -m -w 1\n';

describe('engine at scale: resync, drift and reload paths', () => {
  it('a resync of an untouched table reads it once and diffs nothing; a hand edit is still repaired', async () => {
    const h = await harness(two(), { servers });
    await h.engine.start(h.cfg);
    await h.tick(0);
    await h.tick(1000);
    assert.equal(h.ipvs.save(), FULL);
    const { skipped } = h.engine.reconciler.stats;
    const reads = h.ipvs.reads;
    const runs = h.ipvs.runs;
    await h.tick(5000);
    assert.ok(h.ipvs.reads >= reads + 4, 'the table is still read every checkinterval');
    assert.equal(h.ipvs.runs, runs, 'nothing to change, nothing run');
    assert.ok(
      h.engine.reconciler.stats.skipped >= skipped + 4,
      `the unchanged resyncs skipped their diff (${h.engine.reconciler.stats.skipped - skipped})`,
    );
    h.ipvs.hand('-d -t 10.0.0.2:80 -r 127.0.0.4:8080');
    await h.tick(1000);
    assert.equal(h.ipvs.save(), FULL, 'the hand edit is repaired at the next resync');
  });

  it('drift read by a partial reconcile is still repaired by the next resync', async () => {
    const h = await harness(two(), { servers });
    await h.engine.start(h.cfg);
    await h.tick(0);
    await h.tick(1000);
    // An operator removes 10.0.0.2's real; in the same moment 10.0.0.1's .3 fails, and its
    // reconcile (of 10.0.0.1 only) reads the table with the hand edit in it.
    h.ipvs.hand('-d -t 10.0.0.2:80 -r 127.0.0.4:8080');
    h.servers.set('127.0.0.3', 'down');
    await h.tick(1000);
    await h.tick(1000);
    assert.equal(
      h.ipvs.save(),
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n-A -t 10.0.0.2:80 -s wrr\n-a -t 10.0.0.2:80 -r 127.0.0.4:8080 -m -w 1\n',
    );
  });

  it('reload through carryOver: unchanged virtuals keep their objects, check state and timing; only the change is reconciled', async () => {
    const h = await harness(two() + '\nfailurecount=3\n'.replace(/^/, ''), { servers });
    await h.engine.start(h.cfg);
    await h.tick(0);
    await h.tick(1000);
    h.ipvs.take();
    // 10.0.0.2's real has one soft failure when the reload comes.
    h.servers.set('127.0.0.4', 'down');
    await h.tick(1000);
    const probe4 = [...h.engine.health.probes.values()].find((p) => p.key.includes('127.0.0.4'))!;
    assert.equal(probe4.failures, 1);
    const v2 = h.cfg.virtuals[1]!;
    const next = carryOver(h.cfg, await config(two(7) + '\nfailurecount=3\n'));
    assert.notEqual(next.virtuals[0], h.cfg.virtuals[0], 'the changed virtual is new');
    assert.equal(next.virtuals[1], v2, 'the unchanged virtual is the same object');
    const checks = h.checks.length;
    await h.engine.reload(async () => next);
    assert.deepEqual(
      h.ipvs.take(),
      ['-e -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 7 -x 0 -y 0'],
      'one command, for the one change',
    );
    assert.equal(h.checks.length, checks, 'no check was run again by the reload');
    assert.equal(
      [...h.engine.health.probes.values()].find((p) => p.key.includes('127.0.0.4'))!.failures,
      1,
      'the soft failure count carried over',
    );
    // Its timing carried over too: its next checks come on the same second boundaries.
    const before = h.checks.filter((c) => c.includes('127.0.0.4')).length;
    await h.tick(1000);
    assert.equal(h.checks.filter((c) => c.includes('127.0.0.4')).length, before + 1);
    await h.tick(1000);
    // Third failure in a row: now it goes.
    assert.deepEqual(h.ipvs.take(), ['-d -t 10.0.0.2:80 -r 127.0.0.4:8080']);
  });
});
