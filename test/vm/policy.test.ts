/**
 * Pool policy in a real IPVS kernel (issue 22), one scenario each, as an operator would try
 * them: a flapping real kept out by successcount, quicker re-checks while down, a recovered
 * real's weight climbing in steps (slowstart), a drain that lets open client connections
 * finish (through a SIGKILL and a restart) before the real goes, panic keeping the table
 * full, and quorum commands run once per crossing. The kernel's table is the judge.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Lab, requireVm, sleep } from './lab';

const A = '-A -t 10.0.0.1:80 -s wrr\n';
const real = (addr: string, w: number) => `-a -t 10.0.0.1:80 -r ${addr}:8080 -m -w ${w}\n`;

/** Virtual 10.0.0.1:80 over HTTP reals (`[address, weight]`, masq, port 8080), plus `lines`. */
const httpVirtual = (reals: Array<[string, number]>, lines: string, checkinterval = 1) => `
checkinterval=${checkinterval}
checktimeout=2
quiescent=no
virtual=10.0.0.1:80
${reals.map(([a, w]) => `\treal=${a}:8080 masq ${w}`).join('\n')}
	service=http
	receive="^real"
${lines}`;

describe('VM: pool policy', function () {
  let lab: Lab;
  /** The state file goes into the lab's folder (not /var/lib) so nothing outlives the test. */
  let env: NodeJS.ProcessEnv;
  before(requireVm);
  beforeEach(() => {
    lab = new Lab({ client: true });
    env = { LDIRECTORD_STATE_DIR: lab.dir };
  });
  afterEach(async () => lab.teardown());

  it('successcount=3: a real up one check in three stays out; steady, it is back after three', async () => {
    const flappy = await lab.real('10.9.3.1', 8080);
    await lab.real('10.9.3.2', 8080);
    lab.config(
      httpVirtual(
        [
          ['10.9.3.1', 2],
          ['10.9.3.2', 3],
        ],
        '\tsuccesscount=3',
      ),
    );
    await lab.start({ env });
    await lab.settle(A + real('10.9.3.1', 2) + real('10.9.3.2', 3));
    flappy.pattern = 'udd';
    flappy.hits = 0;
    await lab.waitTable(A + real('10.9.3.2', 3));
    await lab.waitFor('a dozen flapping checks', () => flappy.hits >= 12);
    assert.equal(lab.table(), A + real('10.9.3.2', 3), 'never back while it flaps');
    assert.match(lab.logText(), /Real server rising: 10\.9\.3\.1:8080 \(tcp:10\.0\.0\.1:80\) success 1\/3/);
    flappy.pattern = null;
    await lab.settle(A + real('10.9.3.1', 2) + real('10.9.3.2', 3));
    await lab.stop();
  });

  it('downinterval=1: a down real is checked every second, then every checkinterval once up', async () => {
    const r = await lab.real('10.9.3.5', 8080);
    lab.config(httpVirtual([['10.9.3.5', 2]], '\tdowninterval=1', 8));
    r.answer(500, 'no');
    await lab.start({ env });
    await lab.waitFor('the first check', () => r.hits >= 1);
    let from = r.hits;
    await sleep(6000);
    const whileDown = r.hits - from;
    r.answer(200, 'real 10.9.3.5');
    await lab.waitTable(A + real('10.9.3.5', 2));
    from = r.hits;
    await sleep(6000);
    const whileUp = r.hits - from;
    console.log(`      (checks in 6 s: ${whileDown} while down, ${whileUp} while up)`);
    assert.ok(whileDown >= 3, `down: ${whileDown} checks in 6 s`);
    assert.ok(whileUp <= 1, `up: ${whileUp} checks in 6 s`);
    await lab.stop();
  });

  it('slowstart=12: a real coming back climbs to its weight in steps of ipvsadm -e', async () => {
    const r = await lab.real('10.9.4.1', 8080);
    await lab.real('10.9.4.2', 8080);
    lab.config(
      httpVirtual(
        [
          ['10.9.4.1', 20],
          ['10.9.4.2', 20],
        ],
        '\tslowstart=12',
      ),
    );
    await lab.start({ env });
    await lab.settle(A + real('10.9.4.1', 20) + real('10.9.4.2', 20));
    r.answer(500, 'no');
    await lab.waitTable(A + real('10.9.4.2', 20));
    const before = lab.weightsGiven('10.9.4.1:8080').length;
    r.answer(200, 'real 10.9.4.1');
    // While it ramps, the kernel holds it at less than its weight.
    const partial = await lab.waitFor('the real back at a partial weight', () => {
      const m = /-r 10\.9\.4\.1:8080 -m -w (\d+)/.exec(lab.table());
      return m && Number(m[1]) < 20 ? Number(m[1]) : false;
    });
    await lab.waitTable(A + real('10.9.4.1', 20) + real('10.9.4.2', 20), 90_000);
    // The recording wrapper logs a command once ipvsadm has run it: the kernel may show the
    // last step a moment before the record of it is written.
    const ramp = await lab.waitFor('the last step recorded', () => {
      const given = lab.weightsGiven('10.9.4.1:8080').slice(before);
      return given.at(-1) === 20 ? given : false;
    });
    console.log(`      (weights given on the way back: ${ramp.join(', ')})`);
    assert.ok(partial >= 1);
    assert.ok(ramp.length >= 4 && ramp.length <= 11, ramp.join(','));
    assert.deepEqual(
      [...ramp].sort((a, b) => a - b),
      ramp,
    );
    assert.equal(ramp.at(-1), 20);
    await lab.stop();
  });

  it('drain: open connections go on at weight 0, through a SIGKILL and a restart; the real goes when they end', async () => {
    // Reals that hold every connection open until the client closes it (connect checks).
    const held = new Set<Socket>();
    const servers: Server[] = [];
    for (const addr of ['10.9.5.1', '10.9.5.2']) {
      lab.addAddress(addr);
      const s = createServer((c) => {
        held.add(c);
        c.on('error', () => undefined);
        c.on('close', () => held.delete(c));
      });
      await new Promise<void>((r) => s.listen(8080, addr, r));
      servers.push(s);
    }
    lab.addVip('10.0.0.1');
    try {
      lab.config(`
checkinterval=1
checktimeout=2
quiescent=no
virtual=10.0.0.1:80
	real=10.9.5.1:8080 masq 1
	real=10.9.5.2:8080 masq 1
	checktype=connect
`);
      await lab.start({ env });
      await lab.settle(A + real('10.9.5.1', 1) + real('10.9.5.2', 1));
      // Eight client connections through the virtual service, held open.
      const client = lab.spawnIn(lab.clientNs, [
        process.execPath,
        '-e',
        // Until SIGTERM: stdin is /dev/null here, so its end says nothing.
        `const net = require('net');
         for (let i = 0; i < 8; i++)
           net.connect(80, '10.0.0.1', () => console.log('open')).on('error', (e) => console.log('error ' + e.code));
         setInterval(() => {}, 1000);`,
      ]);
      let opened = 0;
      let said = '';
      client.stdout!.on('data', (b: Buffer) => {
        said += String(b);
        opened = (said.match(/open/g) ?? []).length;
      });
      await lab.waitFor('eight connections', () => opened === 8 || said.includes('error'));
      assert.equal(opened, 8, said);
      const active = () => Number(/10\.9\.5\.1:8080\s+Masq\s+\d+\s+(\d+)/.exec(lab.ipvsadm('-L', '-n'))?.[1] ?? -1);
      assert.ok(active() > 0, 'some connections reached the real to drain');

      const r = await lab.cli([lab.cfg, 'drain', '10.9.5.1:8080', '--timeout', '600'], { env });
      assert.equal(r.code, 0, r.stderr);
      await lab.waitTable(A + real('10.9.5.1', 0) + real('10.9.5.2', 1));
      const open = active();
      assert.ok(open > 0, 'its connections are still open at weight 0');

      // A SIGKILL and a start in the middle: the drain is still on.
      lab.signal('SIGKILL');
      await sleep(500);
      await lab.start({ env });
      await lab.settle(A + real('10.9.5.1', 0) + real('10.9.5.2', 1), 3000);
      assert.equal(active(), open, 'no connection was cut');
      const show = JSON.parse((await lab.cli([lab.cfg, 'show', '--json'], { env })).stdout);
      assert.equal(show.virtuals[0].reals[0].drain.phase, 'draining');

      // The clients finish: the real is taken out.
      client.kill('SIGTERM');
      for (const c of held) c.destroy();
      await lab.waitTable(A + real('10.9.5.2', 1), 60_000);
      await lab.settle(A + real('10.9.5.2', 1), 3000);
      assert.match(lab.logText(), /Drained real server: tcp:10\.0\.0\.1:80 10\.9\.5\.1:8080: no active connection/);
      assert.equal((await lab.cli([lab.cfg, 'undrain', '10.9.5.1'], { env })).code, 0);
      await lab.waitTable(A + real('10.9.5.1', 1) + real('10.9.5.2', 1));
      await lab.stop();
    } finally {
      for (const c of held) c.destroy();
      for (const s of servers) await new Promise((r) => s.close(r));
    }
  });

  it('panicthreshold=50: every real failing keeps the table full; two of three back, the failing one goes', async () => {
    const rs = [];
    for (const a of ['10.9.6.1', '10.9.6.2', '10.9.6.3']) rs.push(await lab.real(a, 8080));
    lab.config(
      httpVirtual(
        [
          ['10.9.6.1', 1],
          ['10.9.6.2', 2],
          ['10.9.6.3', 3],
        ],
        '\tfallback=10.9.6.9:8080 masq\n\tpanicthreshold=50',
      ),
    );
    const full = A + real('10.9.6.1', 1) + real('10.9.6.2', 2) + real('10.9.6.3', 3);
    await lab.start({ env });
    await lab.settle(full);
    for (const r of rs) r.answer(500, 'broken deploy');
    await lab.waitFor('panic', () => /Panic: 10\.0\.0\.1:80 \(tcp\)/.test(lab.logText()));
    await lab.settle(full, 4000);
    rs[0]!.answer(200, 'real 10.9.6.1');
    rs[1]!.answer(200, 'real 10.9.6.2');
    await lab.settle(A + real('10.9.6.1', 1) + real('10.9.6.2', 2));
    assert.equal(lab.logText().match(/Panic: /g)?.length, 1);
    assert.equal(lab.logText().match(/Panic over: /g)?.length, 1);
    await lab.stop();
  });

  it('quorum=4 hysteresis=1: quorumdown and quorumup run once per crossing, with the virtual', async () => {
    const rs = [];
    for (const a of ['10.9.7.1', '10.9.7.2', '10.9.7.3']) rs.push(await lab.real(a, 8080));
    const said = join(lab.dir, 'quorum.txt');
    const script = join(lab.dir, 'quorum.sh');
    writeFileSync(script, `#!/bin/sh\necho "$0 $*" | sed "s|.*/||" >> ${said}\n`);
    chmodSync(script, 0o755);
    lab.config(
      httpVirtual(
        [
          ['10.9.7.1', 2],
          ['10.9.7.2', 2],
          ['10.9.7.3', 2],
        ],
        `\tquorum=4\n\thysteresis=1\n\tquorumup="${script} up"\n\tquorumdown="${script} down"`,
      ),
    );
    await lab.start({ env });
    await lab.settle(A + real('10.9.7.1', 2) + real('10.9.7.2', 2) + real('10.9.7.3', 2));
    // 6 → 4: within the hysteresis, nothing; → 2: lost.
    rs[0]!.answer(500, 'no');
    await lab.settle(A + real('10.9.7.2', 2) + real('10.9.7.3', 2));
    assert.equal(existsSync(said), false, 'weight 4: still within quorum - hysteresis');
    rs[1]!.answer(500, 'no');
    await lab.waitFor('quorumdown', () => existsSync(said));
    // 2 → 4: not yet quorum + hysteresis; → 6: back.
    rs[1]!.answer(200, 'real 10.9.7.2');
    await lab.settle(A + real('10.9.7.2', 2) + real('10.9.7.3', 2));
    rs[0]!.answer(200, 'real 10.9.7.1');
    await lab.settle(A + real('10.9.7.1', 2) + real('10.9.7.2', 2) + real('10.9.7.3', 2));
    await lab.waitFor('quorumup', () => readFileSync(said, 'utf8').split('\n').length >= 3);
    assert.equal(readFileSync(said, 'utf8'), 'quorum.sh down 10.0.0.1:80 tcp 2 4\nquorum.sh up 10.0.0.1:80 tcp 6 4\n');
    await lab.stop();
  });
});
