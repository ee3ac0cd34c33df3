/**
 * In the real kernel, what operators do around the daemon: edit the table by hand (the
 * periodic resync repairs managed services, W-19, and never touches the others), stop it
 * with and without cleanstop, and preview a change with --dry-run, whose plan piped into
 * `ipvsadm -R` must give exactly the table the daemon itself converges to.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { canonical, Lab, requireVm } from './lab';

const CONFIG = `
checkinterval=1
checktimeout=2
quiescent=no
virtual=10.0.0.1:80
	real=10.9.1.1:8080 masq 1
	real=10.9.1.2:8080 masq 3
	checktype=connect
virtual=10.0.0.2:80
	real=10.9.1.2:8080 masq 2
	checktype=connect
	cleanstop=no
`;
const V1 =
  '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.9.1.1:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 10.9.1.2:8080 -m -w 3\n';
const V2 = '-A -t 10.0.0.2:80 -s wrr\n-a -t 10.0.0.2:80 -r 10.9.1.2:8080 -m -w 2\n';

describe('VM: operators', function () {
  let lab: Lab;
  before(requireVm);
  beforeEach(async () => {
    lab = new Lab();
    await lab.real('10.9.1.1', 8080);
    await lab.real('10.9.1.2', 8080);
  });
  afterEach(async () => lab.teardown());

  it('hand edits of managed services are repaired; a service added by hand is left alone', async () => {
    lab.config(CONFIG);
    await lab.start();
    await lab.settle(V1 + V2);
    lab.ipvsadm('-d', '-t', '10.0.0.1:80', '-r', '10.9.1.1:8080');
    lab.ipvsadm('-e', '-t', '10.0.0.1:80', '-r', '10.9.1.2:8080', '-m', '-w', '9');
    lab.ipvsadm('-D', '-t', '10.0.0.2:80');
    lab.ipvsadm('-A', '-t', '10.9.9.9:80', '-s', 'rr');
    lab.ipvsadm('-a', '-t', '10.9.9.9:80', '-r', '10.9.1.1:8080', '-m', '-w', '4');
    const mine = '-A -t 10.9.9.9:80 -s rr\n-a -t 10.9.9.9:80 -r 10.9.1.1:8080 -m -w 4\n';
    await lab.settle(V1 + V2 + mine);
    assert.ok(!lab.commands().some((c) => c.includes('10.9.9.9')), "the service added by hand is not the daemon's");
    // A scheduler changed by hand is put back too.
    lab.ipvsadm('-E', '-t', '10.0.0.1:80', '-s', 'rr');
    await lab.settle(V1 + V2 + mine);
  });

  it('stop: cleanstop=yes services are purged, cleanstop=no ones are left exactly as they are', async () => {
    lab.config(CONFIG);
    await lab.start();
    await lab.settle(V1 + V2);
    await lab.stop();
    assert.equal(lab.table(), canonical(V2));
    assert.equal(lab.pid(), null);
    assert.match(lab.logText(), /Purged virtual server \(stop\): 10\.0\.0\.1:80/);
    assert.doesNotMatch(lab.logText(), /Purged virtual server \(stop\): 10\.0\.0\.2:80/);

    // Global cleanstop=no: a start adopts the table and a stop leaves everything.
    lab.config(CONFIG.replace('quiescent=no', 'quiescent=no\ncleanstop=no'));
    await lab.start();
    await lab.settle(V1 + V2);
    await lab.stop();
    assert.equal(lab.table(), canonical(V1 + V2));
  });

  it('dry-run on a live table: its plan through ipvsadm -R is the table the daemon converges to', async () => {
    // A live director: the running config's table, plus a service nobody manages.
    lab.restore(V1 + V2 + '-A -t 10.9.9.9:80 -s rr\n');
    const before = lab.table();
    // The new config: a weight, a scheduler, a removed real, a new service, a dead real.
    lab.config(`
checkinterval=1
checktimeout=2
quiescent=yes
virtual=10.0.0.1:80
	real=10.9.1.1:8080 masq 4
	real=10.9.1.3:8080 masq 2
	checktype=connect
	scheduler=wlc
virtual=10.0.0.3:80
	real=10.9.1.2:8080 masq 1
	checktype=connect
`);
    const preview = await lab.cli(['--dry-run', lab.cfg]);
    assert.equal(preview.code, 1, `a plan exits 1: ${preview.stderr}`);
    assert.equal(lab.table(), before, 'a dry-run changes nothing');
    const plan = preview.stdout;
    assert.ok(
      plan
        .split('\n')
        .filter(Boolean)
        .every((l) => /^-[AEDaed] /.test(l)),
      `stdout holds only ipvsadm -R lines:\n${plan}`,
    );
    assert.match(preview.stderr, /10\.9\.1\.3:8080/, 'the summary names the dead real');
    assert.match(preview.stderr, /tcp:10\.9\.9\.9:80|10\.9\.9\.9:80/, 'the summary names the service it leaves alone');

    // Apply the plan as an operator would, and note what it gives.
    lab.restore(plan);
    const planned = lab.table();
    const again = await lab.cli(['--dry-run', lab.cfg]);
    assert.equal(again.code, 0, `after applying the plan there is nothing left to do:\n${again.stdout}${again.stderr}`);
    assert.equal(again.stdout, '');

    // Put the live table back and let the daemon itself converge from it.
    lab.ipvsadm('-C');
    lab.restore(V1 + V2 + '-A -t 10.9.9.9:80 -s rr\n');
    await lab.start();
    await lab.settle(planned);
    assert.equal(
      planned,
      canonical(
        '-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 10.9.1.1:8080 -m -w 4\n-a -t 10.0.0.1:80 -r 10.9.1.3:8080 -m -w 0\n' +
          V2 +
          '-A -t 10.0.0.3:80 -s wrr\n-a -t 10.0.0.3:80 -r 10.9.1.2:8080 -m -w 1\n-A -t 10.9.9.9:80 -s rr\n',
      ),
    );
  });

  it('dry-run of a candidate with another name, --against the running config: applied by hand it gives exactly the candidate table', async () => {
    // The running daemon manages V1 and V2; 10.9.9.9:80 is nobody's.
    lab.config(CONFIG);
    await lab.start();
    await lab.settle(V1 + V2);
    lab.ipvsadm('-A', '-t', '10.9.9.9:80', '-s', 'rr');
    // The candidate drops V2 and changes V1: a file of another name, next to the running one.
    const candidate = lab.cfg.replace(/[^/]+$/, 'candidate.cf');
    writeFileSync(
      candidate,
      `logfile="${lab.log}"\ncheckinterval=1\nchecktimeout=2\nquiescent=no\n` +
        'virtual=10.0.0.1:80\n\treal=10.9.1.1:8080 masq 5\n\tchecktype=connect\n',
    );
    const preview = await lab.cli(['--dry-run', '--against', lab.cfg, candidate]);
    assert.equal(preview.code, 1, preview.stderr);
    assert.match(preview.stderr, /tcp:10\.0\.0\.2:80: remove/);
    assert.match(preview.stderr, /note: ldirectord is running .*lab\d+\.cf: it would undo these commands/);
    // Without --against the running daemon is not found (another name): no purge is shown.
    const blind = await lab.cli(['--dry-run', candidate]);
    assert.doesNotMatch(blind.stderr, /10\.0\.0\.2:80: remove/);
    // Applied by hand (the daemon stopped first, leaving its table: cleanstop=no for this),
    // the plan gives exactly the candidate's table plus the service nobody manages.
    await lab.cli([lab.cfg, 'stop']);
    lab.ipvsadm('-C');
    lab.restore(V1 + V2 + '-A -t 10.9.9.9:80 -s rr\n');
    lab.restore(preview.stdout);
    assert.equal(
      lab.table(),
      canonical('-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.9.1.1:8080 -m -w 5\n-A -t 10.9.9.9:80 -s rr\n'),
    );
  });
});
