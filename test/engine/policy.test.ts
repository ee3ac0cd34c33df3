/**
 * Pool policy in the engine, on fake time (issue 22): faster re-checks while in doubt or
 * down, slow start in bounded `ipvsadm -e` steps (and across a restart), drains that wait
 * for connections or a deadline, panic, and quorum commands once per crossing.
 */
import assert from 'node:assert/strict';
import { alertFor } from '../../src/daemon/alerts';
import { harness } from './harness';

const ONE_REAL = (lines: string) => `
checkinterval=10
${lines}
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq 10
	service=http
	quiescent=no
`;

describe('engine: pool policy', () => {
  it('failinginterval and downinterval: quicker checks while failing and while down, not while healthy', async () => {
    const h = await harness(ONE_REAL('failurecount=3\nfailinginterval=1\ndowninterval=3'), {
      servers: { '127.0.0.2': 'up' },
    });
    await h.engine.start(h.cfg);
    await h.tick(0);
    // Healthy: the first check at once, the next at 5.5 s (the spread), then every 10 s.
    const counts: number[] = [];
    const step = async (ms: number) => {
      await h.tick(ms);
      counts.push(h.checks.length);
    };
    await step(5000); // t=5
    h.servers.set('127.0.0.2', 'down');
    await step(1000); // t=6: soft 1 at 5.5
    await step(1000); // t=7: soft 2 at 6.5 (failinginterval)
    await step(1000); // t=8: down at 7.5
    await step(2000); // t=10: nothing (downinterval 3 s)
    await step(1000); // t=11: 10.5
    h.servers.set('127.0.0.2', 'up');
    await step(3000); // t=14: up at 13.5
    await step(9000); // t=23: healthy again, every 10 s
    await step(1000); // t=24: 23.5
    assert.deepEqual(counts, [1, 2, 3, 4, 4, 5, 6, 6, 7]);
    assert.ok(h.logs.some((l) => l.startsWith('Real server down: 127.0.0.2:8080')));
  });

  it('without them, a Perl config checks every checkinterval whatever the state', async () => {
    const h = await harness(ONE_REAL('failurecount=3'), { servers: { '127.0.0.2': 'up' } });
    await h.engine.start(h.cfg);
    await h.tick(5000);
    h.servers.set('127.0.0.2', 'down');
    await h.tick(20_000); // 5.5, 15.5
    assert.equal(h.checks.length, 3);
  });

  it('successcount: a flapping real stays out until it passes N checks in a row', async () => {
    const h = await harness(ONE_REAL('checkinterval=1\nsuccesscount=3'), { servers: { '127.0.0.2': 'down' } });
    await h.engine.start(h.cfg);
    await h.tick(0);
    // Up one check in three: never three in a row.
    for (let i = 0; i < 12; i++) {
      h.servers.set('127.0.0.2', i % 3 === 0 ? 'up' : 'down');
      await h.tick(1000);
    }
    assert.equal(h.ipvs.save(), '-A -t 10.0.0.1:80 -s wrr\n');
    h.servers.set('127.0.0.2', 'up');
    await h.tick(3000);
    assert.equal(h.ipvs.save(), '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 10\n');
    assert.ok(h.logs.includes('Real server rising: 127.0.0.2:8080 (tcp:10.0.0.1:80) success 2/3'));
  });

  it('slowstart: a real that comes back climbs to its weight in at most 11 ipvsadm runs over the time set', async () => {
    const h = await harness(ONE_REAL('checkinterval=1\nslowstart=10'), { servers: { '127.0.0.2': 'up' } });
    await h.engine.start(h.cfg);
    await h.tick(0);
    assert.match(h.ipvs.take().join('\n'), /-w 10 /, 'at start: the configured weight at once');
    h.servers.set('127.0.0.2', 'down');
    await h.tick(2000);
    h.ipvs.take();
    h.servers.set('127.0.0.2', 'up');
    await h.tick(1000);
    const back = h.clock.now();
    const weights: number[] = [];
    for (let t = 0; t < 12_000; t += 100) {
      await h.tick(100);
      for (const c of h.ipvs.take()) weights.push(Number(/-w (\d+)/.exec(c)![1]));
    }
    assert.ok(weights.length <= 11 && weights.length >= 5, weights.join(','));
    assert.deepEqual(
      [...weights].sort((a, b) => a - b),
      weights,
    );
    assert.equal(weights[0], 1);
    assert.equal(weights.at(-1), 10);
    assert.ok(h.clock.now() - back >= 10_000);
    const view = h.engine.view()[0]!.reals[0]!;
    assert.equal(view.slowStartUntil, null, 'the ramp is over');
  });

  it('slowstart across a restart: the new engine resumes the ramp from the state it was given', async () => {
    const h = await harness(ONE_REAL('checkinterval=1\nslowstart=10'), {
      servers: { '127.0.0.2': 'up' },
      table: ['-A -t 10.0.0.1:80 -s wrr', '-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 3'],
    });
    h.engine.restorePolicy({ drains: {}, ramps: { 'tcp:10.0.0.1:80|127.0.0.2:8080': h.clock.now() - 4000 } });
    await h.engine.start(h.cfg);
    await h.tick(0);
    // 4 s into a 10 s ramp of weight 10: step 4 of 10, 10 × 5/11 = 5; not 10.
    assert.equal(h.ipvs.save(), '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 5\n');
    assert.deepEqual(Object.keys(h.engine.policyState().ramps), ['tcp:10.0.0.1:80|127.0.0.2:8080']);
    await h.tick(7000);
    assert.match(h.ipvs.save(), /-w 10\n$/);
    assert.deepEqual(h.engine.policyState().ramps, {}, 'a finished ramp is not kept');
  });

  it('drain: weight 0 at once, out when its connections end; undrain gives it back to its checks', async () => {
    const h = await harness(
      `
checkinterval=2
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq 2
	real=127.0.0.3:8080 masq 5
	service=http
	quiescent=no
`,
      { servers: { '127.0.0.2': 'up', '127.0.0.3': 'up' } },
    );
    await h.engine.start(h.cfg);
    await h.tick(0);
    h.ipvs.take();
    h.connections.set('tcp:10.0.0.1:80|127.0.0.3:8080', 2);
    assert.deepEqual(h.engine.drain('127.0.0.3', null, 60), ['tcp:10.0.0.1:80|127.0.0.3:8080']);
    assert.ok(h.events.some((e) => e.type === 'policy'));
    await h.tick(200);
    assert.deepEqual(h.ipvs.take(), ['-e -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 0']);
    await h.tick(10_000); // resyncs: connections still open, a healthy real held at 0
    assert.deepEqual(h.ipvs.take(), []);
    assert.equal(h.engine.view()[0]!.reals[1]!.drain?.phase, 'draining');
    h.connections.set('tcp:10.0.0.1:80|127.0.0.3:8080', 0);
    await h.tick(2000);
    assert.deepEqual(h.ipvs.take(), ['-d -t 10.0.0.1:80 -r 127.0.0.3:8080']);
    assert.ok(h.logs.includes('Drained real server: tcp:10.0.0.1:80 127.0.0.3:8080: no active connection'));
    await h.tick(10_000);
    assert.deepEqual(h.ipvs.take(), [], 'not repaired back by the resync');
    assert.equal(h.engine.policyState().drains['tcp:10.0.0.1:80|127.0.0.3:8080']?.phase, 'drained');
    assert.deepEqual(h.engine.undrain('127.0.0.3:8080', '10.0.0.1:80'), ['tcp:10.0.0.1:80|127.0.0.3:8080']);
    await h.tick(200);
    assert.deepEqual(h.ipvs.take(), ['-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5 -x 0 -y 0']);
    assert.deepEqual(h.engine.undrain('127.0.0.9', null), [], 'nothing matched');
  });

  it('drain with a deadline: out when it passes, connections or not', async () => {
    const h = await harness(ONE_REAL('checkinterval=1'), { servers: { '127.0.0.2': 'up' } });
    await h.engine.start(h.cfg);
    await h.tick(0);
    h.ipvs.take();
    h.connections.set('tcp:10.0.0.1:80|127.0.0.2:8080', 7);
    h.engine.drain('127.0.0.2:8080', 'tcp:10.0.0.1:80', 3);
    await h.tick(2000);
    assert.deepEqual(h.ipvs.take(), ['-e -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 0']);
    await h.tick(2000);
    assert.deepEqual(h.ipvs.take(), ['-d -t 10.0.0.1:80 -r 127.0.0.2:8080']);
    assert.ok(h.logs.some((l) => /deadline passed with 7 active connections/.test(l)));
  });

  it('panicthreshold: all reals failing keeps the table full, said once each way', async () => {
    const h = await harness(
      `
checkinterval=1
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq 2
	real=127.0.0.3:8080 masq 5
	fallback=127.0.0.9:80 masq
	service=http
	quiescent=no
	panicthreshold=50
`,
      { servers: { '127.0.0.2': 'up', '127.0.0.3': 'up' } },
    );
    await h.engine.start(h.cfg);
    await h.tick(0);
    const full =
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 2\n-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5\n';
    assert.equal(h.ipvs.save(), full);
    h.servers.set('127.0.0.2', 'down');
    h.servers.set('127.0.0.3', 'down');
    await h.tick(5000);
    assert.equal(h.ipvs.save(), full, 'every real kept, no fallback');
    assert.equal(h.logs.filter((l) => l.startsWith('Panic: 10.0.0.1:80 (tcp)')).length, 1);
    assert.equal(h.engine.view()[0]!.panic, true);
    h.servers.set('127.0.0.3', 'up');
    await h.tick(2000);
    assert.equal(h.ipvs.save(), '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5\n');
    assert.equal(h.logs.filter((l) => l.startsWith('Panic over: 10.0.0.1:80 (tcp)')).length, 1);
    // The e-mail alerts (when emailalert= is set) get each crossing once, as its log line.
    assert.deepEqual(
      h.events
        .map(alertFor)
        .map((a) => a?.subject ?? '')
        .filter((subject) => subject.startsWith('Panic')),
      [
        'Panic: 10.0.0.1:80 (tcp): 0 of 2 real servers up, panicthreshold 50%: keeping every real server in service',
        'Panic over: 10.0.0.1:80 (tcp): 1 of 2 real servers up, panicthreshold 50%',
      ],
    );
  });

  it('quorum: quorumdown and quorumup once per crossing, with hysteresis', async () => {
    const h = await harness(
      `
checkinterval=1
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq 3
	real=127.0.0.3:8080 masq 3
	service=http
	quorum=5
	hysteresis=1
	quorumup="/usr/local/bin/vip up"
	quorumdown=/usr/local/bin/vip-down
`,
      { servers: { '127.0.0.2': 'up', '127.0.0.3': 'up' } },
    );
    await h.engine.start(h.cfg);
    await h.tick(3000);
    assert.deepEqual(h.fallbackRuns, [], 'reached at start: nothing to say');
    for (let i = 0; i < 3; i++) {
      h.servers.set('127.0.0.3', 'down');
      await h.tick(2000);
      h.servers.set('127.0.0.3', 'up');
      await h.tick(2000);
    }
    assert.deepEqual(h.fallbackRuns, [
      ['/usr/local/bin/vip-down', '10.0.0.1:80', 'tcp', '3', '5'],
      ['/usr/local/bin/vip up', '10.0.0.1:80', 'tcp', '6', '5'],
      ['/usr/local/bin/vip-down', '10.0.0.1:80', 'tcp', '3', '5'],
      ['/usr/local/bin/vip up', '10.0.0.1:80', 'tcp', '6', '5'],
      ['/usr/local/bin/vip-down', '10.0.0.1:80', 'tcp', '3', '5'],
      ['/usr/local/bin/vip up', '10.0.0.1:80', 'tcp', '6', '5'],
    ]);
    assert.deepEqual(h.engine.view()[0]!.quorum, { reached: true, weightUp: 6, quorum: 5, hysteresis: 1 });
    assert.equal(h.events.map(alertFor).filter((a) => a?.subject.startsWith('Quorum')).length, 6, 'alerted once each');
  });
});
