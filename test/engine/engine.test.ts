/**
 * The engine in fake time against the fake kernel: start, failures, fallback, quiescence,
 * adoption, the gate port rewrite, reload, drift repair, stop, ipvsadm failures.
 * Each step asserts the exact table, as `ipvsadm -S -n` prints it.
 */
import assert from 'node:assert/strict';
import { harness } from './harness';

const web = (extra = '') => `
checkinterval=2
fallback=127.0.0.1:80
${extra}
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq
	real=127.0.0.3:8080 masq 5
	service=http
`;

describe('engine', () => {
  it('starts on an empty table: the virtual at once, each real after its first good check, no fallback flap', async () => {
    const h = await harness(web('quiescent=no'), { servers: { '127.0.0.2': 'up', '127.0.0.3': 'up' } });
    await h.engine.start(h.cfg);
    await h.tick(0);
    assert.equal(
      h.ipvs.save(),
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5\n',
    );
    assert.deepEqual(
      h.ipvs.take(),
      [
        '-A -t 10.0.0.1:80 -s wrr',
        '-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1 -x 0 -y 0',
        '-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5 -x 0 -y 0',
      ],
      'no fallback added and removed, no real added to see',
    );
    assert.ok(h.logs.includes('Added virtual server: 10.0.0.1:80'));
    assert.ok(h.logs.includes('Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)'));
  });

  it('failurecount: soft failures first, then the real is deleted (quiescent=no)', async () => {
    const h = await harness(web('quiescent=no\nfailurecount=2'), { servers: { '127.0.0.2': 'up', '127.0.0.3': 'up' } });
    await h.engine.start(h.cfg);
    await h.tick(0);
    h.ipvs.take();
    h.servers.set('127.0.0.3', 'down');
    await h.tick(1100); // second check of each probe
    // Perl's line exactly, and the reason on a line of its own.
    const soft = h.logs.indexOf('Soft failure real server: 127.0.0.3:8080 (tcp:10.0.0.1:80) failure 1/2');
    assert.ok(soft >= 0, 'the Perl soft failure line, unchanged');
    assert.match(h.logs[soft + 1]!, /^Check failed: 127\.0\.0\.3:8080 \(tcp:10\.0\.0\.1:80\): connect ECONNREFUSED$/);
    assert.deepEqual(h.ipvs.take(), []);
    await h.tick(2000);
    assert.deepEqual(h.ipvs.take(), ['-d -t 10.0.0.1:80 -r 127.0.0.3:8080']);
    assert.ok(h.logs.includes('Deleted real server: 127.0.0.3:8080 (10.0.0.1:80)'));
    h.servers.set('127.0.0.3', 'up');
    await h.tick(2000);
    assert.deepEqual(h.ipvs.take(), ['-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5 -x 0 -y 0']);
    assert.ok(h.logs.includes('Resetting soft failure count: 127.0.0.3:8080 (tcp:10.0.0.1:80)'));
  });

  it('all reals down brings the fallback in at weight 1; one back takes it out (quiescent=no)', async () => {
    const h = await harness(web('quiescent=no'), { servers: { '127.0.0.2': 'up', '127.0.0.3': 'down' } });
    await h.engine.start(h.cfg);
    await h.tick(0);
    assert.equal(h.ipvs.save(), '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n');
    h.servers.set('127.0.0.2', 'down');
    await h.tick(1100);
    assert.equal(h.ipvs.save(), '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.1:80 -g -w 1\n');
    assert.ok(h.logs.includes('Added fallback server: 127.0.0.1:80 (10.0.0.1:80) (Weight set to 1)'));
    h.servers.set('127.0.0.3', 'up');
    await h.tick(2000);
    assert.equal(h.ipvs.save(), '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5\n');
    assert.ok(h.logs.includes('Deleted fallback server: 127.0.0.1:80 (10.0.0.1:80)'));
  });

  it('quiescent=yes: a dead real is kept at weight 0 and the fallback joins when none is up (B.2)', async () => {
    const h = await harness(web('quiescent=yes'), { servers: { '127.0.0.2': 'up', '127.0.0.3': 'down' } });
    await h.engine.start(h.cfg);
    await h.tick(0);
    // The dead real ends where the original ends after start: present at weight 0.
    assert.equal(
      h.ipvs.save(),
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 0\n',
    );
    h.servers.set('127.0.0.2', 'down');
    await h.tick(1100);
    assert.equal(
      h.ipvs.save(),
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 0\n-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 0\n-a -t 10.0.0.1:80 -r 127.0.0.1:80 -g -w 1\n',
    );
    assert.ok(h.logs.includes('Quiescent real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 0)'));
    h.servers.set('127.0.0.2', 'up');
    h.servers.set('127.0.0.3', 'up');
    await h.tick(2000);
    assert.equal(
      h.ipvs.save(),
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5\n',
    );
    assert.ok(h.logs.includes('Restored real server: 127.0.0.3:8080 (10.0.0.1:80) (Weight set to 5)'));
  });

  it('adopts an existing table: live reals untouched, stale reals purged, unmanaged services left alone (B.3)', async () => {
    const h = await harness(web('quiescent=yes'), {
      table: [
        '-A -t 10.9.9.9:80 -s rr',
        '-a -t 10.9.9.9:80 -r 10.9.9.10:80 -g -w 1',
        '-A -t 10.0.0.1:80 -s rr',
        '-a -t 10.0.0.1:80 -r 1.1.1.1:80 -m -w 1',
        '-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 7',
        '-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5',
      ],
      servers: { '127.0.0.2': 'hang', '127.0.0.3': 'hang' },
    });
    await h.engine.start(h.cfg);
    await h.tick(0);
    // Checks have not answered yet: the adopted reals keep serving, the weight is fixed.
    assert.deepEqual(h.ipvs.take(), [
      '-E -t 10.0.0.1:80 -s wrr',
      '-d -t 10.0.0.1:80 -r 1.1.1.1:80',
      '-e -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1 -x 0 -y 0',
    ]);
    assert.equal(
      h.ipvs.save(),
      '-A -t 10.9.9.9:80 -s rr\n-a -t 10.9.9.9:80 -r 10.9.9.10:80 -g -w 1\n-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5\n',
    );
    assert.ok(h.logs.includes('Purged real server (start): 1.1.1.1:80 (10.0.0.1:80)'));
    // The first checks time out: now they go to weight 0, and the fallback comes in.
    await h.tick(32_000); // adopted probes first run at a random point of their interval, then time out after 30 s
    assert.equal(
      h.ipvs.save(),
      '-A -t 10.9.9.9:80 -s rr\n-a -t 10.9.9.9:80 -r 10.9.9.10:80 -g -w 1\n-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 0\n-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 0\n-a -t 10.0.0.1:80 -r 127.0.0.1:80 -g -w 1\n',
    );
  });

  it('gate reals on another port: the kernel keeps rip:vport, quiesce and restore find it (W-6)', async () => {
    const h = await harness(
      `
checkinterval=2
quiescent=yes
virtual=10.0.0.1:80
	real=10.1.1.1:8080 gate 3
	real=10.1.1.2:8080 ipip
	service=http
`,
      { servers: { '10.1.1.1': 'up', '10.1.1.2': 'up' } },
    );
    await h.engine.start(h.cfg);
    await h.tick(0);
    assert.equal(
      h.ipvs.save(),
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.1.1.1:80 -g -w 3\n-a -t 10.0.0.1:80 -r 10.1.1.2:80 -i -w 1\n',
    );
    h.ipvs.take();
    h.servers.set('10.1.1.1', 'down');
    await h.tick(1100);
    assert.deepEqual(h.ipvs.take(), ['-e -t 10.0.0.1:80 -r 10.1.1.1:80 -g -w 0']);
    assert.ok(
      h.logs.includes('Quiescent real server: 10.1.1.1:80 mapped from 10.1.1.1:8080 (10.0.0.1:80) (Weight set to 0)'),
    );
    h.servers.set('10.1.1.1', 'up');
    await h.tick(2000);
    assert.deepEqual(h.ipvs.take(), ['-e -t 10.0.0.1:80 -r 10.1.1.1:80 -g -w 3 -x 0 -y 0']);
    // A resync finds nothing to do (no endless re-adding of rip:8080).
    await h.tick(10_000);
    assert.deepEqual(h.ipvs.take(), []);
  });

  it('repairs a hand edit at the next resync, and leaves unmanaged services alone', async () => {
    const h = await harness(web('quiescent=no'), { servers: { '127.0.0.2': 'up', '127.0.0.3': 'up' } });
    await h.engine.start(h.cfg);
    await h.tick(0);
    h.ipvs.take();
    h.ipvs.hand(
      '-d -t 10.0.0.1:80 -r 127.0.0.2:8080',
      '-e -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 9',
      '-A -t 10.5.5.5:443 -s rr',
    );
    await h.tick(2000);
    assert.equal(
      h.ipvs.save(),
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n-A -t 10.5.5.5:443 -s rr\n',
    );
  });

  it('a real shared by two virtuals is checked once and failurecount counts checks (W-9)', async () => {
    const h = await harness(
      `
checkinterval=2
failurecount=3
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq
	service=http
virtual=10.0.0.2:80
	real=127.0.0.2:8080 masq
	service=http
`,
      { servers: { '127.0.0.2': 'up' } },
    );
    await h.engine.start(h.cfg);
    await h.tick(0);
    assert.equal(h.checks.length, 1, 'one probe for both virtuals');
    h.servers.set('127.0.0.2', 'down');
    await h.tick(1100);
    await h.tick(2000);
    assert.match(
      h.ipvs.save(),
      /127\.0\.0\.2:8080 -m -w 1\n.*\n.*127\.0\.0\.2:8080 -m -w 1/s,
      'two failed checks of three: still in',
    );
    await h.tick(2000);
    assert.equal(h.ipvs.save(), '-A -t 10.0.0.1:80 -s wrr\n-A -t 10.0.0.2:80 -s wrr\n');
  });

  it('reload: unchanged checks keep their state, a weight change is one command, removed virtuals are purged', async () => {
    const h = await harness(
      web('quiescent=no') +
        `
virtual=10.0.0.2:80
	real=127.0.0.2:8080 masq
	service=http
`,
      { servers: { '127.0.0.2': 'up', '127.0.0.3': 'up' } },
    );
    await h.engine.start(h.cfg);
    await h.tick(0);
    h.ipvs.take();
    const checksBefore = h.checks.length;
    const { config } = await import('../helpers/config.js');
    const next = await config(
      web('quiescent=no').replace('masq 5', 'masq 3') +
        `
virtual=10.0.0.3:80
	real=127.0.0.2:8080 masq
	service=http
`,
    );
    await h.engine.reload(async () => next);
    assert.deepEqual(h.ipvs.take(), [
      '-A -t 10.0.0.3:80 -s wrr',
      '-e -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 3 -x 0 -y 0',
      '-a -t 10.0.0.3:80 -r 127.0.0.2:8080 -m -w 1 -x 0 -y 0',
      '-D -t 10.0.0.2:80',
    ]);
    assert.equal(h.checks.length, checksBefore, 'no check needed: the probe of 127.0.0.2 kept its result');
    assert.ok(h.logs.includes('Purged virtual server (start): 10.0.0.2:80'));
    assert.ok(h.logs.includes('Restored real server: 127.0.0.3:8080 (10.0.0.1:80) (Weight set to 3)'));
  });

  it('stop: cleanstop=yes removes the service, cleanstop=no leaves it', async () => {
    const h = await harness(
      `
checkinterval=2
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq
	service=http
virtual=10.0.0.2:80
	real=127.0.0.2:8080 masq
	service=http
	cleanstop=no
`,
      { servers: { '127.0.0.2': 'up' } },
    );
    await h.engine.start(h.cfg);
    await h.tick(0);
    await h.engine.stop();
    assert.equal(h.ipvs.save(), '-A -t 10.0.0.2:80 -s wrr\n-a -t 10.0.0.2:80 -r 127.0.0.2:8080 -m -w 1\n');
    assert.ok(h.logs.includes('Purged real server (stop): 127.0.0.2:8080 (10.0.0.1:80)'));
    assert.ok(h.logs.includes('Purged virtual server (stop): 10.0.0.1:80'));
  });

  it('a failing ipvsadm is logged with argv, nothing is believed, and it converges once ipvsadm works', async () => {
    const h = await harness(web('quiescent=no'), { servers: { '127.0.0.2': 'up', '127.0.0.3': 'up' } });
    h.ipvs.failCommands = /127\.0\.0\.3/;
    await h.engine.start(h.cfg);
    await h.tick(0);
    assert.equal(h.ipvs.save(), '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n');
    assert.ok(
      h.logs.some((l) =>
        l.startsWith(
          'ERROR ipvsadm failed: fake-ipvsadm -a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5 -x 0 -y 0: Invalid operation',
        ),
      ),
    );
    assert.ok(
      !h.logs.includes('Added real server: 127.0.0.3:8080 (10.0.0.1:80) (Weight set to 5)'),
      'not logged as done',
    );
    h.ipvs.failCommands = null;
    await h.tick(2000);
    assert.equal(
      h.ipvs.save(),
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5\n',
    );
  });

  it('an unreadable table (no ipvsadm, no module) is logged and retried; checks go on', async () => {
    const h = await harness(web('quiescent=no'), { servers: { '127.0.0.2': 'up', '127.0.0.3': 'up' } });
    h.ipvs.failReads = "Can't initialize ipvs: Protocol not available";
    await h.engine.start(h.cfg);
    await h.tick(3000);
    assert.ok(h.checks.length >= 4, 'checks keep running');
    assert.ok(h.logs.some((l) => l.startsWith('ERROR cannot read the IPVS table')));
    assert.equal(h.ipvs.save(), '');
    h.ipvs.failReads = null;
    await h.tick(2000);
    assert.equal(
      h.ipvs.save(),
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 127.0.0.3:8080 -m -w 5\n',
    );
  });

  it('readdquiescent=no: a quiesced real removed by hand stays removed while down; =yes puts it back', async () => {
    for (const readd of ['no', 'yes']) {
      const h = await harness(web(`quiescent=yes\nreaddquiescent=${readd}`), {
        servers: { '127.0.0.2': 'up', '127.0.0.3': 'down' },
      });
      await h.engine.start(h.cfg);
      await h.tick(0);
      h.ipvs.hand('-d -t 10.0.0.1:80 -r 127.0.0.3:8080');
      await h.tick(2000);
      const has = h.ipvs.save().includes('127.0.0.3:8080');
      assert.equal(has, readd === 'yes', `readdquiescent=${readd}`);
    }
  });

  it('fwmark, IPv6, persistence, thresholds and ops produce the right ipvsadm commands', async () => {
    const h = await harness(
      `
checkinterval=2
virtual=5
	real=10.1.1.3 gate
	real=10.1.1.4:8080 masq 2 l:10 u:100
	service=http
	checkport=80
	scheduler=sh
	persistent=600
	netmask=255.255.255.0
virtual6=[2001:db8::1]:80
	real6=[2001:db8::2]:8080 masq
	service=http
virtual=10.0.0.1:53
	real=10.1.1.5:53 gate
	protocol=udp
	ops=yes
	checktype=on
`,
      { servers: { '10.1.1.3': 'up', '10.1.1.4': 'up', '2001:db8::2': 'up' } },
    );
    await h.engine.start(h.cfg);
    await h.tick(0);
    const cmds = h.ipvs.take();
    for (const c of [
      '-A -f 5 -s sh -p 600 -M 255.255.255.0',
      '-A -t [2001:db8::1]:80 -s wrr',
      '-A -u 10.0.0.1:53 -s wrr -o',
      '-a -f 5 -r 10.1.1.3:0 -g -w 1 -x 0 -y 0',
      '-a -f 5 -r 10.1.1.4:8080 -m -w 2 -x 100 -y 10',
      '-a -t [2001:db8::1]:80 -r [2001:db8::2]:8080 -m -w 1 -x 0 -y 0',
      '-a -u 10.0.0.1:53 -r 10.1.1.5:53 -g -w 1 -x 0 -y 0',
    ])
      assert.ok(cmds.includes(c), `missing: ${c}\n${cmds.join('\n')}`);
  });

  it('runs fallbackcommand on the transitions between some and no real up (W-5: fwmark named by its mark)', async () => {
    const h = await harness(
      `
checkinterval=2
fallbackcommand=/usr/local/bin/fb
virtual=7
	real=10.1.1.3 gate
	service=http
	checkport=80
`,
      { servers: { '10.1.1.3': 'up' } },
    );
    await h.engine.start(h.cfg);
    await h.tick(0);
    h.servers.set('10.1.1.3', 'down');
    await h.tick(1100);
    assert.deepEqual(h.fallbackRuns, [
      ['/usr/local/bin/fb', 'stop', '7', 'fwm'],
      ['/usr/local/bin/fb', 'start', '7', 'fwm'],
    ]);
  });

  it('stop aborts hanging checks at once', async () => {
    const h = await harness(web(), { servers: { '127.0.0.2': 'hang', '127.0.0.3': 'hang' } });
    await h.engine.start(h.cfg);
    await h.tick(10);
    assert.equal(h.engine.scheduler.inFlightNow, 2);
    await h.engine.stop();
    await h.tick(0);
    assert.equal(h.engine.scheduler.inFlightNow, 0);
  });
});
