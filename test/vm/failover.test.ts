/**
 * In the real kernel: start on an empty table, a real dies (deleted with quiescent=no,
 * weight 0 with quiescent=yes), all die (the fallback comes in at weight 1), one returns
 * (the fallback goes, never quiesced), stop (cleanstop=yes takes the service out).
 * The exact table is asserted after every step.
 */
import assert from 'node:assert/strict';
import { Lab, requireVm } from './lab';

const config = (quiescent: 'yes' | 'no') => `
checkinterval=1
checktimeout=2
negotiatetimeout=2
quiescent=${quiescent}
virtual=10.0.0.1:80
	real=10.9.1.1:8080 masq 1
	real=10.9.1.2:8080 masq 3
	fallback=10.9.1.9:8080 masq
	service=http
	request="/health"
	receive="^real \\d"
	scheduler=wrr
`;

const A = '-A -t 10.0.0.1:80 -s wrr\n';
const r1 = (w: number) => `-a -t 10.0.0.1:80 -r 10.9.1.1:8080 -m -w ${w}\n`;
const r2 = (w: number) => `-a -t 10.0.0.1:80 -r 10.9.1.2:8080 -m -w ${w}\n`;
const fb = '-a -t 10.0.0.1:80 -r 10.9.1.9:8080 -m -w 1\n';

for (const quiescent of ['no', 'yes'] as const) {
  describe(`VM: failover with quiescent=${quiescent}`, function () {
    let lab: Lab;
    before(requireVm);
    beforeEach(() => (lab = new Lab()));
    afterEach(async () => lab.teardown());

    it('start on an empty table, a real dies, all die (fallback in), one returns (fallback out), stop', async () => {
      await lab.real('10.9.1.1', 8080);
      await lab.real('10.9.1.2', 8080);
      await lab.real('10.9.1.9', 8080, 'fallback');
      lab.config(config(quiescent));
      assert.equal(lab.table(), '', 'a fresh director namespace starts with an empty table');

      await lab.start();
      await lab.settle(A + r1(1) + r2(3));
      assert.deepEqual(lab.weightsGiven('10.9.1.9:8080'), [], 'the fallback is never added while reals are up');

      // .2 fails its negotiate check (wrong status): deleted, or quiesced.
      lab.server('10.9.1.2:8080').answer(503, 'maintenance');
      await lab.settle(A + r1(1) + (quiescent === 'yes' ? r2(0) : ''));
      assert.match(
        lab.logText(),
        quiescent === 'yes'
          ? /Quiescent real server: 10\.9\.1\.2:8080 \(10\.0\.0\.1:80\) \(Weight set to 0\)/
          : /Deleted real server: 10\.9\.1\.2:8080 \(10\.0\.0\.1:80\)/,
      );
      assert.match(lab.logText(), /Real server down: 10\.9\.1\.2:8080 \(tcp:10\.0\.0\.1:80\): HTTP 503/);

      // .1 goes away entirely: no real is up, the fallback comes in at weight 1.
      await lab.server('10.9.1.1:8080').stop();
      await lab.settle(A + (quiescent === 'yes' ? r1(0) + r2(0) : '') + fb);
      assert.match(lab.logText(), /Added fallback server: 10\.9\.1\.9:8080 \(10\.0\.0\.1:80\) \(Weight set to 1\)/);

      // .2 answers again: it is back at its weight and the fallback is deleted (never quiesced).
      lab.server('10.9.1.2:8080').answer(200, 'real 2');
      await lab.settle(A + (quiescent === 'yes' ? r1(0) : '') + r2(3));
      assert.match(lab.logText(), /Deleted fallback server: 10\.9\.1\.9:8080 \(10\.0\.0\.1:80\)/);
      assert.ok(!lab.commands().some((c) => /10\.9\.1\.9:8080 .*-w 0/.test(c)), 'the fallback is never quiesced');

      await lab.stop();
      assert.equal(lab.table(), '', 'cleanstop=yes (the default) takes the service out');
      assert.equal(lab.pid(), null, 'stop returns once the daemon is gone');
      assert.match(lab.logText(), /Purged real server \(stop\): 10\.9\.1\.2:8080 \(10\.0\.0\.1:80\)/);
      assert.match(lab.logText(), /Purged virtual server \(stop\): 10\.0\.0\.1:80/);
      assert.ok(
        lab.recorded().every((r) => r.rc === 0),
        `every ipvsadm run succeeded: ${JSON.stringify(lab.recorded().filter((r) => r.rc !== 0))}`,
      );
    });
  });
}
