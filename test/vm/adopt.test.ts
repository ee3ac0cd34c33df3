/**
 * In the real kernel: start on a table that is already there (an unmanaged service, a
 * stale real, a live real at the wrong weight, a dead real), then SIGKILL the daemon and
 * start it again on top of its own table. Adopt, don't flap: live reals are never taken
 * out, dead ones never get weight, unmanaged services are never touched.
 */
import assert from 'node:assert/strict';
import { canonical, Lab, requireVm } from './lab';

const CONFIG = `
checkinterval=1
checktimeout=2
negotiatetimeout=2
quiescent=no
virtual=10.0.0.1:80
	real=10.9.1.1:8080 masq 1
	real=10.9.1.2:8080 masq 2
	real=10.9.1.3:8080 masq 5
	real=10.9.1.4:8080 masq 4
	service=http
	receive="real"
virtual=10.0.0.2:80
	real=10.9.1.1:8080 masq 1
	service=http
	receive="real"
`;

const UNMANAGED = '-A -t 10.9.9.9:80 -s rr\n-a -t 10.9.9.9:80 -r 10.9.1.7:80 -m -w 1\n';

describe('VM: adopting a table', function () {
  let lab: Lab;
  before(requireVm);
  beforeEach(() => (lab = new Lab()));
  afterEach(async () => lab.teardown());

  it('start on unmanaged services and stale reals: adopt, purge the stale, no flap; SIGKILL and restart: the same', async () => {
    await lab.real('10.9.1.1', 8080);
    await lab.real('10.9.1.2', 8080);
    // 10.9.1.3 and 10.9.1.4 have no server: connection refused.
    lab.restore(
      UNMANAGED +
        '-A -t 10.0.0.1:80 -s rr\n' +
        '-a -t 10.0.0.1:80 -r 10.9.1.100:80 -m -w 1\n' + // stale: not in the config
        '-a -t 10.0.0.1:80 -r 10.9.1.1:8080 -m -w 7\n' + // live, wrong weight
        '-a -t 10.0.0.1:80 -r 10.9.1.3:8080 -m -w 5\n', // in the config, dead
    );
    lab.config(CONFIG);
    await lab.start();
    const settled =
      UNMANAGED +
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.9.1.1:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 10.9.1.2:8080 -m -w 2\n' +
      '-A -t 10.0.0.2:80 -s wrr\n-a -t 10.0.0.2:80 -r 10.9.1.1:8080 -m -w 1\n';
    await lab.settle(settled);

    const cmds = lab.commands();
    assert.ok(!cmds.some((c) => c.includes('10.9.9.9')), `the unmanaged service is never touched: ${cmds.join('; ')}`);
    assert.ok(
      !cmds.some((c) => /^-d -t 10\.0\.0\.1:80 -r 10\.9\.1\.1:8080/.test(c)),
      'the live real is never taken out',
    );
    assert.deepEqual(lab.weightsGiven('10.9.1.4:8080'), [], 'a dead real not in the table is never added');
    assert.deepEqual(lab.weightsGiven('10.9.1.3:8080'), [], 'a dead real in the table is only deleted');
    assert.ok(cmds.includes('-d -t 10.0.0.1:80 -r 10.9.1.3:8080'));
    assert.ok(cmds.includes('-d -t 10.0.0.1:80 -r 10.9.1.100:80'), 'the stale real is purged');
    assert.match(lab.logText(), /Purged real server \(start\): 10\.9\.1\.100:80 \(10\.0\.0\.1:80\)/);
    assert.match(lab.logText(), /Changed virtual server: 10\.0\.0\.1:80/);
    assert.match(lab.logText(), /Restored real server: 10\.9\.1\.1:8080 \(10\.0\.0\.1:80\) \(Weight set to 1\)/);

    // SIGKILL: the table stays as it was, the pid file is left behind.
    const before = lab.commands().length;
    lab.signal('SIGKILL');
    await lab.waitFor('the daemon to die', () => {
      try {
        process.kill(lab.pid()!, 0);
        return false;
      } catch {
        return true;
      }
    });
    assert.equal(lab.table(), canonical(settled), 'a killed daemon leaves the table as it was');
    // While it is dead, .2 fails; and a new daemon starts over the stale pid file.
    await lab.server('10.9.1.2:8080').stop();
    const status = await lab.cli([lab.cfg, 'status']);
    assert.equal(status.code, 1, 'status sees the stale pid file');
    assert.match(status.stderr, /ldirectord stale pid file \/var\/run\/ldirectord\.lab\d+\.cf\.pid for /);
    await lab.start();
    await lab.settle(
      UNMANAGED +
        '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.9.1.1:8080 -m -w 1\n-A -t 10.0.0.2:80 -s wrr\n-a -t 10.0.0.2:80 -r 10.9.1.1:8080 -m -w 1\n',
    );
    const after = lab.commands().slice(before);
    assert.deepEqual(
      after,
      ['-d -t 10.0.0.1:80 -r 10.9.1.2:8080'],
      'the restart changes only what the checks say; it re-adds nothing',
    );
  });

  it('quiescent=yes: a quiesced live real is restored, a dead one stays at 0, both without a flap', async () => {
    await lab.real('10.9.1.1', 8080);
    lab.restore(
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.9.1.1:8080 -m -w 0\n-a -t 10.0.0.1:80 -r 10.9.1.3:8080 -m -w 0\n',
    );
    lab.config(`
checkinterval=1
checktimeout=2
quiescent=yes
virtual=10.0.0.1:80
	real=10.9.1.1:8080 masq 3
	real=10.9.1.3:8080 masq 5
	checktype=connect
`);
    await lab.start();
    await lab.settle(
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.9.1.1:8080 -m -w 3\n-a -t 10.0.0.1:80 -r 10.9.1.3:8080 -m -w 0\n',
    );
    assert.deepEqual(lab.weightsGiven('10.9.1.3:8080'), [], 'the dead real is left at weight 0, never touched');
    assert.deepEqual(lab.weightsGiven('10.9.1.1:8080'), [3]);
  });
});
