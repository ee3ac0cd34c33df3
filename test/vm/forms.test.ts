/**
 * In the real kernel, the service and real forms whose kernel behaviour a fake could get
 * wrong: gate/ipip reals whose port differs from the virtual's (the kernel stores them
 * under the virtual's port, W-6), fwmark services (IPv4 and IPv6), IPv6 address services
 * with an IPv6 fallback, persistence with netmasks, scheduler flags and `l:`/`u:`
 * connection thresholds (read back with `ipvsadm -L -n --thresholds`).
 */
import assert from 'node:assert/strict';
import { Lab, requireVm } from './lab';

describe('VM: service and real forms', function () {
  let lab: Lab;
  before(requireVm);
  beforeEach(() => (lab = new Lab()));
  afterEach(async () => lab.teardown());

  it('gate and ipip reals on another port: quiesced under rip:vport and restored (W-6)', async () => {
    await lab.real('10.9.1.1', 8080);
    await lab.real('10.9.1.2', 8080);
    lab.config(`
checkinterval=1
checktimeout=2
quiescent=yes
virtual=10.0.0.1:80
	real=10.9.1.1:8080 gate 2
	real=10.9.1.2:8080 ipip 3
	checktype=connect
`);
    const A = '-A -t 10.0.0.1:80 -s wrr\n';
    const g = (w: number) => `-a -t 10.0.0.1:80 -r 10.9.1.1:80 -g -w ${w}\n`;
    const i = (w: number) => `-a -t 10.0.0.1:80 -r 10.9.1.2:80 -i -w ${w} --tun-type ipip\n`;
    await lab.start();
    await lab.settle(A + g(2) + i(3));

    await lab.server('10.9.1.1:8080').stop();
    await lab.settle(A + g(0) + i(3));
    assert.match(
      lab.logText(),
      /Quiescent real server: 10\.9\.1\.1:80 mapped from 10\.9\.1\.1:8080 \(10\.0\.0\.1:80\) \(Weight set to 0\)/,
    );
    await lab.server('10.9.1.2:8080').stop();
    await lab.settle(A + g(0) + i(0));

    // Perl never restored these (it looked for rip:8080 and failed on "already exists").
    await lab.server('10.9.1.1:8080').start();
    await lab.server('10.9.1.2:8080').start();
    await lab.settle(A + g(2) + i(3));
    assert.ok(
      lab.recorded().every((r) => r.rc === 0),
      'no ipvsadm command failed',
    );
    assert.ok(
      !lab.commands().some((c) => /^-a .*10\.9\.1\.[12]:8080/.test(c)),
      'nothing is ever added under the configured port',
    );
  });

  it('fwmark (IPv4 and IPv6) and IPv6 services: persistence, netmask, schedflags, fallback6', async () => {
    await lab.real('10.9.1.1', 8080);
    await lab.real('10.9.1.2', 8080);
    await lab.real('fd00:9::1:1', 8080);
    await lab.real('fd00:9::1:2', 8080);
    await lab.real('fd00:9::1:9', 8080, 'fallback');
    lab.config(`
checkinterval=1
checktimeout=2
negotiatetimeout=2
virtual=5
	real=10.9.1.1:8080 gate
	real=10.9.1.2 gate 2
	protocol=fwm
	checktype=connect
	checkport=8080
	scheduler=sh
	schedflags=sh-fallback,sh-port
	persistent=600
	netmask=255.255.255.0
virtual6=[fd00:1::1]:80
	real6=[fd00:9::1:1]:8080 masq
	real6=[fd00:9::1:2]:8080 masq 2
	fallback6=[fd00:9::1:9]:8080 masq
	service=http
	receive="real"
virtual6=7
	real6=[fd00:9::1:1]:8080 gate
	protocol=fwm
	checktype=connect
	checkport=8080
	persistent=30
	netmask=64
`);
    const f5 = '-A -f 5 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port\n';
    const f5r1 = '-a -f 5 -r 10.9.1.1:8080 -g -w 1\n';
    const f5r2 = '-a -f 5 -r 10.9.1.2:0 -g -w 2\n';
    const v6 = '-A -t [fd00:1::1]:80 -s wrr\n';
    const v6r1 = '-a -t [fd00:1::1]:80 -r [fd00:9::1:1]:8080 -m -w 1\n';
    const v6r2 = '-a -t [fd00:1::1]:80 -r [fd00:9::1:2]:8080 -m -w 2\n';
    const v6fb = '-a -t [fd00:1::1]:80 -r [fd00:9::1:9]:8080 -m -w 1\n';
    const f7 = '-A -f 7 -6 -s wrr -p 30 -M 64\n';
    const f7r1 = '-a -f 7 -6 -r [fd00:9::1:1]:8080 -g -w 1\n';
    await lab.start();
    await lab.settle(f5 + f5r1 + f5r2 + v6 + v6r1 + v6r2 + f7 + f7r1);

    // The IPv6 real shared by two services fails: out of both (one check, fanned out).
    await lab.server('[fd00:9::1:1]:8080').stop();
    await lab.settle(f5 + f5r1 + f5r2 + v6 + v6r2 + f7);
    // The other IPv6 real fails its negotiate check: the IPv6 fallback comes in.
    lab.server('[fd00:9::1:2]:8080').answer(200, 'wrong body');
    await lab.settle(f5 + f5r1 + f5r2 + v6 + v6fb + f7);
    assert.match(lab.logText(), /Added fallback server: \[fd00:9::1:9\]:8080 \(\[fd00:1::1\]:80\) \(Weight set to 1\)/);
    // The fwmark real without a port fails (its check goes to checkport 8080).
    await lab.server('10.9.1.2:8080').stop();
    await lab.settle(f5 + f5r1 + v6 + v6fb + f7);
    assert.match(lab.logText(), /Deleted real server: 10\.9\.1\.2:0 \(5\)/);
    // Everything back.
    await lab.server('[fd00:9::1:1]:8080').start();
    lab.server('[fd00:9::1:2]:8080').answer(200, 'real again');
    await lab.server('10.9.1.2:8080').start();
    await lab.settle(f5 + f5r1 + f5r2 + v6 + v6r1 + v6r2 + f7 + f7r1);
  });

  it('thresholds (l:/u:) and persistence reach the kernel, and a reload changes them in place', async () => {
    await lab.real('10.9.1.1', 8080);
    await lab.real('10.9.1.2', 8080);
    const cfg = (u: number) => `
checkinterval=1
checktimeout=2
virtual=10.0.0.3:80
	real=10.9.1.1:8080 masq 2 l:10 u:${u}
	real=10.9.1.2:8080 masq 1 u:50
	checktype=connect
	scheduler=lc
	persistent=300
	netmask=255.255.0.0
`;
    lab.config(cfg(100));
    await lab.start();
    const table =
      '-A -t 10.0.0.3:80 -s lc -p 300 -M 255.255.0.0\n-a -t 10.0.0.3:80 -r 10.9.1.1:8080 -m -w 2\n-a -t 10.0.0.3:80 -r 10.9.1.2:8080 -m -w 1\n';
    await lab.settle(table);
    assert.deepEqual(lab.thresholds().get('TCP 10.0.0.3:80 10.9.1.1:8080'), [100, 10]);
    assert.deepEqual(lab.thresholds().get('TCP 10.0.0.3:80 10.9.1.2:8080'), [50, 0]);

    const before = lab.recorded().length;
    lab.config(cfg(200));
    assert.equal((await lab.cli([lab.cfg, 'reload'])).code, 0);
    await lab.waitFor(
      'the new upper threshold',
      () => lab.thresholds().get('TCP 10.0.0.3:80 10.9.1.1:8080')?.[0] === 200,
    );
    await lab.settle(table);
    assert.deepEqual(lab.thresholds().get('TCP 10.0.0.3:80 10.9.1.1:8080'), [200, 10]);
    const runs = lab.recorded().slice(before);
    assert.deepEqual(
      runs.flatMap((r) => r.commands),
      ['-e -t 10.0.0.3:80 -r 10.9.1.1:8080 -m -w 2 -x 200 -y 10'],
      'one command, for the one real that changed',
    );
  });
});
