/**
 * Real TCP connections through a virtual service in the real kernel (LVS-NAT):
 *
 *   client ns 10.8.0.2 ──▶ director ns (VIP 10.0.0.10:80, IPVS masq, the daemon)
 *                                   ──▶ reals 10.9.1.1-3:8080 (weights 1, 2, 3), fallback 10.9.1.9:8080
 *
 * A client opens one connection after another and records which real answered (each
 * real's body names it). The test shows:
 *   (a) connections spread over the healthy reals by weight;
 *   (b) after a real is killed, once the daemon has reacted (its ipvsadm command has run),
 *       no new connection reaches the dead real and none fails;
 *   (c) with every real down, connections reach the fallback;
 *   (d) after recovery, traffic returns.
 * It reports the time from the kill to the daemon's command and to the last connection
 * that reached the dead real (printed, and written to $LDIRECTORD_VM_REPORT when set).
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from '../helpers/env';
import { Lab, requireVm, sleep, type Recorded } from './lab';

interface Conn {
  t: number;
  e: number;
  real?: string;
  err?: string;
}

const CONFIG = `
checkinterval=1
checktimeout=1
negotiatetimeout=1
quiescent=no
virtual=10.0.0.10:80
	real=10.9.1.1:8080 masq 1
	real=10.9.1.2:8080 masq 2
	real=10.9.1.3:8080 masq 3
	fallback=10.9.1.9:8080 masq
	service=http
	receive="^real"
	scheduler=wrr
`;

const CLIENT = join(ROOT, '.test-build', 'test', 'vm', 'client.js');

function count(conns: Conn[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of conns) {
    const k = c.real ?? `error ${c.err}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

describe('VM: real traffic through a virtual service', function () {
  let lab: Lab;
  const conns: Conn[] = [];
  before(requireVm);
  before(() => (lab = new Lab({ client: true })));
  after(async () => lab.teardown());

  /** Connections started in [from, to). */
  const between = (from: number, to = Infinity) => conns.filter((c) => c.t >= from && c.t < to);
  /** Wait until the client has made `n` more connections. */
  const more = (n: number) => {
    const target = conns.length + n;
    return lab.waitFor(`${n} more connections`, () => conns.length >= target, 120_000);
  };
  /** The daemon's ipvsadm run that carried a command matching `re`, after `since`. */
  const reaction = (re: RegExp, since: number) =>
    lab.waitFor(`the daemon's command ${re}`, () =>
      lab.recorded().find((r: Recorded) => r.start >= since && r.commands.some((c) => re.test(c))),
    );

  it('spreads by weight, drops a killed real without failed connections once reacted, falls back, recovers', async () => {
    for (const a of ['10.9.1.1', '10.9.1.2', '10.9.1.3']) await lab.real(a, 8080);
    await lab.real('10.9.1.9', 8080, 'fallback');
    lab.addVip('10.0.0.10');
    lab.config(CONFIG);
    await lab.start();
    const all =
      '-A -t 10.0.0.10:80 -s wrr\n-a -t 10.0.0.10:80 -r 10.9.1.1:8080 -m -w 1\n-a -t 10.0.0.10:80 -r 10.9.1.2:8080 -m -w 2\n-a -t 10.0.0.10:80 -r 10.9.1.3:8080 -m -w 3\n';
    await lab.settle(all);

    const client = lab.spawnIn(lab.clientNs, [process.execPath, CLIENT, '10.0.0.10', '80', '5']);
    createInterface({ input: client.stdout! }).on('line', (l) => conns.push(JSON.parse(l) as Conn));
    let clientErr = '';
    client.stderr!.on('data', (b) => (clientErr += b));

    // (a) Spread by weight: 1:2:3 over 300 connections (wrr is exact per round of 6).
    await more(30);
    const aFrom = Date.now();
    await more(300);
    const a = between(aFrom);
    const byReal = count(a);
    assert.equal(
      a.filter((c) => c.err).length,
      0,
      `no connection fails while all are up: ${JSON.stringify(byReal)} ${clientErr}`,
    );
    const share = (r: string) => (byReal[`real ${r}`] ?? 0) / a.length;
    for (const [r, w] of [
      ['10.9.1.1', 1],
      ['10.9.1.2', 2],
      ['10.9.1.3', 3],
    ] as const) {
      assert.ok(
        Math.abs(share(r) - w / 6) < 0.05,
        `${r} gets ${(share(r) * 100).toFixed(1)}% of ${a.length}, expected ${((w / 6) * 100).toFixed(1)}%: ${JSON.stringify(byReal)}`,
      );
    }

    // (b) Kill .3, the heaviest real.
    const killAt = Date.now();
    await lab.server('10.9.1.3:8080').stop();
    const dropped = await reaction(/^-d -t 10\.0\.0\.10:80 -r 10\.9\.1\.3:8080$/, killAt);
    await more(200);
    const afterReact = between(dropped.end);
    assert.ok(afterReact.length >= 200);
    assert.deepEqual(
      afterReact.filter((c) => c.err),
      [],
      'no connection fails once the daemon has reacted',
    );
    assert.equal(afterReact.filter((c) => c.real === 'real 10.9.1.3').length, 0, 'none reaches the dead real');
    const b = count(afterReact);
    assert.ok(
      Math.abs((b['real 10.9.1.2'] ?? 0) / afterReact.length - 2 / 3) < 0.06,
      `the rest spread 1:2: ${JSON.stringify(b)}`,
    );
    const failedAfterKill = between(killAt).filter((c) => c.err);
    const lastDeadHit = failedAfterKill.length ? Math.max(...failedAfterKill.map((c) => c.t)) : killAt;
    const figures = {
      connectionsAtWeight: byReal,
      killToCommandMs: dropped.end - killAt,
      killToLastConnectionToDeadRealMs: lastDeadHit - killAt,
      connectionsRefusedMeanwhile: failedAfterKill.length,
    };

    // (c) Every real down: the fallback takes the traffic.
    const allDownAt = Date.now();
    await lab.server('10.9.1.1:8080').stop();
    await lab.server('10.9.1.2:8080').stop();
    const fallbackIn = await reaction(/^-a -t 10\.0\.0\.10:80 -r 10\.9\.1\.9:8080 -m -w 1/, allDownAt);
    await lab.waitTable('-A -t 10.0.0.10:80 -s wrr\n-a -t 10.0.0.10:80 -r 10.9.1.9:8080 -m -w 1\n');
    const tableAt = Date.now();
    await more(100);
    const c = between(Math.max(fallbackIn.end, tableAt));
    assert.deepEqual(count(c), { fallback: c.length }, 'every connection reaches the fallback');

    // (d) .2 comes back: the fallback goes, the traffic goes to .2; then all return.
    const backAt = Date.now();
    await lab.server('10.9.1.2:8080').start();
    await reaction(/^-d -t 10\.0\.0\.10:80 -r 10\.9\.1\.9:8080$/, backAt);
    await lab.waitTable('-A -t 10.0.0.10:80 -s wrr\n-a -t 10.0.0.10:80 -r 10.9.1.2:8080 -m -w 2\n');
    const only2 = Date.now();
    await more(100);
    const d = between(only2);
    assert.deepEqual(count(d), { 'real 10.9.1.2': d.length }, 'traffic returns to the recovered real');
    await lab.server('10.9.1.1:8080').start();
    await lab.server('10.9.1.3:8080').start();
    await lab.waitTable(all);
    const allBack = Date.now();
    await more(120);
    const e = count(between(allBack));
    assert.ok(
      e['real 10.9.1.1'] &&
        e['real 10.9.1.2'] &&
        e['real 10.9.1.3'] &&
        !Object.keys(e).some((k) => k.startsWith('error')),
      `traffic spreads over all three again: ${JSON.stringify(e)}`,
    );

    client.kill('SIGTERM');
    console.log(`      traffic figures: ${JSON.stringify(figures)}`);
    if (process.env.LDIRECTORD_VM_REPORT)
      appendFileSync(process.env.LDIRECTORD_VM_REPORT, JSON.stringify({ test: 'traffic', ...figures }) + '\n');
    await sleep(100);
  });
});
