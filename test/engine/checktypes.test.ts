/**
 * checktype=N, on, off and maintenance files, through the engine in fake time (spec §5:
 * items 7-9 and §5.6).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harness } from './harness';

describe('engine: checktypes', () => {
  it('checktype=2: a negotiate first, then two connects, then a negotiate again; a failed connect forces a negotiate', async () => {
    const h = await harness(
      `
checkinterval=1
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq
	service=http
	checktype=2
`,
      { servers: { '127.0.0.2': 'up' } },
    );
    await h.engine.start(h.cfg);
    await h.tick(0);
    for (let i = 0; i < 5; i++) await h.tick(1000);
    assert.deepEqual(
      h.checks.slice(0, 6).map((c) => c.split(' ')[0]),
      ['http', 'connect', 'connect', 'http', 'connect', 'connect'],
    );
    await h.tick(1000); // the 7th check: a negotiate, up, so connects follow
    h.checks.length = 0;
    h.servers.set('127.0.0.2', 'down');
    await h.tick(1000); // the 8th: a connect, which fails
    h.servers.set('127.0.0.2', 'up');
    await h.tick(1000); // the 9th must be a negotiate again
    await h.tick(1000);
    assert.deepEqual(
      h.checks.map((c) => c.split(' ')[0]),
      ['connect', 'http', 'connect'],
    );
    assert.equal(h.ipvs.save(), '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n');
  });

  it('checktype=on: up without a check; checktype=off: no check, adopted state kept, the fallback in otherwise', async () => {
    const h = await harness(
      `
checkinterval=1
fallback=127.0.0.1:80
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq
	checktype=on
virtual=10.0.0.2:80
	real=127.0.0.3:8080 masq
	real=127.0.0.4:8080 masq
	checktype=off
`,
      { table: ['-A -t 10.0.0.2:80 -s wrr', '-a -t 10.0.0.2:80 -r 127.0.0.3:8080 -m -w 1'] },
    );
    await h.engine.start(h.cfg);
    await h.tick(5000);
    assert.deepEqual(h.checks, [], 'neither on nor off runs a check');
    assert.equal(
      h.ipvs.save(),
      '-A -t 10.0.0.2:80 -s wrr\n-a -t 10.0.0.2:80 -r 127.0.0.3:8080 -m -w 1\n-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n',
      'on: the real is in; off: the adopted real stays, the unknown one is not added, no fallback while one is up',
    );
  });

  it('a maintenance file takes a real down without a check (failurecount bypassed), and its removal brings it back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ldmaint-'));
    try {
      const h = await harness(
        `
checkinterval=1
failurecount=3
maintenancedir=${dir}
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq
	real=127.0.0.3:8080 masq
	service=http
`,
        { servers: { '127.0.0.2': 'up', '127.0.0.3': 'up' } },
      );
      await h.engine.start(h.cfg);
      await h.tick(0);
      // The listing is refreshed at most once a (fake) second, by a real readdir: tick, and
      // give the I/O real time, until the next check sees the file (bounded).
      const until = async (want: string) => {
        for (let i = 0; i < 20 && h.ipvs.save() !== want; i++) {
          await h.tick(1000);
          await new Promise((r) => setTimeout(r, 50));
        }
        return h.ipvs.save();
      };
      writeFileSync(join(dir, '127.0.0.3:8080'), '');
      const one = '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n';
      assert.equal(await until(one), one);
      assert.ok(
        !h.logs.some((l) => l.startsWith('Soft failure real server: 127.0.0.3:8080')),
        'down at once, no soft failures',
      );
      assert.ok(h.logs.some((l) => l === 'Real server down: 127.0.0.3:8080 (tcp:10.0.0.1:80): Server in maintenance'));
      unlinkSync(join(dir, '127.0.0.3:8080'));
      const both = one + '-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 1\n';
      assert.equal(await until(both), both);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a real in maintenance at start is never added (and the others are), even named by a slow reverse name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ldmaint-'));
    try {
      // Named by its short host name: known only once reverse DNS (here 100 ms) answers.
      writeFileSync(join(dir, 'web3:8080'), '');
      const reverseName = (a: string) =>
        new Promise<string | null>((r) => setTimeout(() => r(a === '127.0.0.3' ? 'web3.example.com' : null), 100));
      const h = await harness(
        `
checkinterval=1
maintenancedir=${dir}
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq
	real=127.0.0.3:8080 masq
	service=http
`,
        { servers: { '127.0.0.2': 'up', '127.0.0.3': 'up' }, reverseName },
      );
      await h.engine.start(h.cfg);
      await h.tick(0);
      await h.tick(3000);
      assert.ok(
        !h.ipvs.log.some((c) => c.includes('127.0.0.3')),
        `no command ever names the real in maintenance: ${h.ipvs.log.join('; ')}`,
      );
      assert.equal(h.ipvs.save(), '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
