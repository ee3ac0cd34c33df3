/**
 * In the real kernel: reloads that add, change and remove virtuals and reals (HUP through
 * `ldirectord CONFIG reload`, and autoreload on a file change), a one-weight change that
 * costs exactly one ipvsadm command, and broken files that change nothing until a good
 * file arrives. A dead real never gets weight across any of it (the original flapped it
 * up at every reload, W-2).
 */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { canonical, Lab, requireVm } from './lab';

const HEAD = `
checkinterval=1
checktimeout=2
quiescent=yes
`;

const CONFIG1 =
  HEAD +
  `virtual=10.0.0.1:80
	real=10.9.1.1:8080 masq 1
	real=10.9.1.2:8080 masq 5
	real=10.9.1.9:8080 masq 2
	checktype=connect
virtual=10.0.0.2:80
	real=10.9.1.1:8080 masq 1
	checktype=connect
`;
const TABLE1 =
  '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.9.1.1:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 10.9.1.2:8080 -m -w 5\n-a -t 10.0.0.1:80 -r 10.9.1.9:8080 -m -w 0\n' +
  '-A -t 10.0.0.2:80 -s wrr\n-a -t 10.0.0.2:80 -r 10.9.1.1:8080 -m -w 1\n';

const CONFIG2 = (w1: number) =>
  HEAD +
  `virtual=10.0.0.1:80
	real=10.9.1.1:8080 masq ${w1}
	real=10.9.1.4:8080 masq 1
	real=10.9.1.9:8080 masq 2
	checktype=connect
	scheduler=wlc
	persistent=300
virtual=10.0.0.3:80
	real=10.9.1.2:8080 masq 1
	checktype=connect
	scheduler=rr
`;
const TABLE2 = (w1: number) =>
  `-A -t 10.0.0.1:80 -s wlc -p 300\n-a -t 10.0.0.1:80 -r 10.9.1.1:8080 -m -w ${w1}\n-a -t 10.0.0.1:80 -r 10.9.1.4:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 10.9.1.9:8080 -m -w 0\n` +
  '-A -t 10.0.0.3:80 -s rr\n-a -t 10.0.0.3:80 -r 10.9.1.2:8080 -m -w 1\n';

describe('VM: reload', function () {
  let lab: Lab;
  before(requireVm);
  beforeEach(async () => {
    lab = new Lab();
    for (const a of ['10.9.1.1', '10.9.1.2', '10.9.1.4']) await lab.real(a, 8080);
  });
  afterEach(async () => lab.teardown());

  it('HUP: virtuals added, changed and removed, reals added and removed; one weight is one command', async () => {
    lab.config(CONFIG1);
    await lab.start();
    await lab.settle(TABLE1);

    lab.config(CONFIG2(3));
    assert.equal((await lab.cli([lab.cfg, 'reload'])).code, 0);
    await lab.settle(TABLE2(3));
    assert.match(lab.logText(), /Reloading Linux Director Daemon config on signal/);
    await lab.waitFor('the purge logged', () => /Purged virtual server \(start\): 10\.0\.0\.2:80/.test(lab.logText()));
    assert.match(lab.logText(), /Changed virtual server: 10\.0\.0\.1:80/);
    assert.match(lab.logText(), /Added virtual server: 10\.0\.0\.3:80/);
    assert.deepEqual(
      lab.weightsGiven('10.9.1.9:8080').filter((w) => w > 0),
      [],
      'the dead real never gets weight (no reload flap)',
    );

    // One weight changed: exactly one ipvsadm run, one command.
    const before = lab.recorded().length;
    lab.config(CONFIG2(7));
    lab.signal('SIGHUP');
    await lab.settle(TABLE2(7));
    const runs = lab.recorded().slice(before);
    assert.equal(runs.length, 1, `one ipvsadm run: ${JSON.stringify(runs)}`);
    assert.deepEqual(runs[0]!.commands, ['-e -t 10.0.0.1:80 -r 10.9.1.1:8080 -m -w 7 -x 0 -y 0']);
  });

  it('a broken file (HUP or autoreload) changes nothing and is logged with its line; a later good file is picked up', async () => {
    lab.config(CONFIG1.replace('checkinterval=1', 'checkinterval=1\nautoreload=yes'));
    await lab.start();
    await lab.settle(TABLE1);
    const before = lab.recorded().length;

    // A syntax error, by HUP: the CLI refuses to ask for it; a HUP sent anyway changes nothing.
    writeFileSync(lab.cfg, `logfile="${lab.log}"\nautoreload=yes\nvirtual=10.0.0.1:80\n\treal=10.9.1.1:8080 nat\n`);
    const r = await lab.cli([lab.cfg, 'reload']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /at line 4: forward method must be gate, masq or ipip/);
    lab.signal('SIGHUP');
    await lab.waitFor('the HUP error logged', () =>
      /Error \[\d+\] reading file .* at line 4: forward method must be gate, masq or ipip/.test(lab.logText()),
    );

    // Autoreload sees a truncated file, an empty one, a binary one, a directory, then nothing.
    const broken: [string, () => void, RegExp][] = [
      [
        'truncated',
        () => writeFileSync(lab.cfg, CONFIG1.slice(0, CONFIG1.indexOf('masq 5') + 3)),
        /at line \d+: forward method must be gate, masq or ipip|Invalid real server line/,
      ],
      ['empty', () => writeFileSync(lab.cfg, ''), /the file is empty/],
      [
        'binary',
        () => writeFileSync(lab.cfg, Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 0x7f, 0x80])),
        /at line 1: Unknown command/,
      ],
      [
        'a directory',
        () => {
          rmSync(lab.cfg);
          mkdirSync(lab.cfg);
        },
        /not a regular file|EISDIR|can not open file/,
      ],
      ['deleted', () => rmSync(lab.cfg, { recursive: true }), /ENOENT|can not open file/],
    ];
    for (const [what, make, error] of broken) {
      const mark = lab.logText().length;
      make();
      await lab.waitFor(`the ${what} file logged`, () => error.test(lab.logText().slice(mark)));
      assert.equal(lab.table(), canonical(TABLE1), `a ${what} file leaves the table as it was`);
    }
    assert.equal(lab.recorded().length, before, 'no ipvsadm command ran for any broken file');
    assert.ok(lab.pid(), 'the daemon still runs');

    // The running config is still in force: a failure is acted upon.
    await lab.server('10.9.1.2:8080').stop();
    await lab.settle(TABLE1.replace('10.9.1.2:8080 -m -w 5', '10.9.1.2:8080 -m -w 0'));
    await lab.server('10.9.1.2:8080').start();

    // A good file again, saved the way editors do (write a temp file, rename it over).
    writeFileSync(
      lab.cfg + '.swp',
      `logfile="${lab.log}"\n` + CONFIG2(3).replace('checkinterval=1', 'checkinterval=1\nautoreload=yes'),
    );
    renameSync(lab.cfg + '.swp', lab.cfg);
    await lab.settle(TABLE2(3));
    assert.match(lab.logText(), /Configuration file '.*' has changed on disk/);
  });
});
