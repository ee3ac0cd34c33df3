/**
 * Found by the side-by-side runs (test/compat-daemon, MySQL scenario under load): a stop
 * that arrives while a reconcile is applying an older plan. The checks have since said
 * something newer, and the reconcile that would apply it is skipped because the engine is
 * stopping; with cleanstop=no the table is then left as the stale plan had it, e.g. a
 * healthy real deleted. The Perl original, strictly sequential, leaves the table as its
 * last check result had it.
 */
import assert from 'node:assert/strict';
import type { RunResult } from '../../src/reconcile/ipvsadm';
import { harness } from './harness';

describe('engine: stop during a reconcile', () => {
  it('cleanstop=no leaves the table as the last check results say, not as an older plan', async () => {
    const h = await harness(
      `
checkinterval=2
quiescent=no
cleanstop=no
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq
	real=127.0.0.3:8080 masq 5
	service=http
`,
      { servers: { '127.0.0.2': 'up', '127.0.0.3': 'up' } },
    );
    await h.engine.start(h.cfg);
    await h.tick(0);
    const both =
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5\n';
    assert.equal(h.ipvs.save(), both);
    // ipvsadm is slow from now on: the next run waits until released.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const run = h.ipvs.run.bind(h.ipvs);
    h.ipvs.run = async (commands: string[][]): Promise<RunResult> => {
      await gate;
      return run(commands);
    };
    h.servers.set('127.0.0.3', 'down');
    await h.tick(1100); // .3 fails: a reconcile starts deleting it, held in ipvsadm
    h.servers.set('127.0.0.3', 'up');
    await h.tick(2000); // .3 answers again: one more reconcile is due
    const stopping = h.engine.stop();
    release();
    await stopping;
    assert.equal(h.ipvs.save(), both, 'the healthy real must not be left deleted');
  });
});
