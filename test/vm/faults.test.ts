/**
 * In the real kernel, faults around the daemon while it manages a table:
 * - ipvsadm failing (non-zero exit), printing garbage, hanging (killed at its deadline),
 *   missing: logged, nothing believed, the daemon keeps checking and converges as soon
 *   as ipvsadm works again;
 * - the ip_vs module gone from the kernel (and not loadable): the same, and once it can
 *   be loaded again the whole table is rebuilt;
 * - SIGKILL at several moments of start-up, each followed by a start: converges, and a
 *   live real is never taken out;
 * - 1,000 HUPs in a burst around a config change: one consistent state;
 * - TERM while a check hangs: stop returns and the table is cleaned.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { canonical, Lab, requireVm, sleep } from './lab';

const CONFIG = `
checkinterval=1
checktimeout=2
negotiatetimeout=2
quiescent=no
virtual=10.0.0.1:80
	real=10.9.1.1:8080 masq 1
	real=10.9.1.2:8080 masq 2
	checktype=connect
`;
const A = '-A -t 10.0.0.1:80 -s wrr\n';
const R1 = '-a -t 10.0.0.1:80 -r 10.9.1.1:8080 -m -w 1\n';
const R2 = '-a -t 10.0.0.1:80 -r 10.9.1.2:8080 -m -w 2\n';

const alive = (pid: number | null) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('VM: faults', function () {
  let lab: Lab;
  before(requireVm);
  beforeEach(async () => {
    lab = new Lab();
    await lab.real('10.9.1.1', 8080);
    await lab.real('10.9.1.2', 8080);
  });
  afterEach(async () => lab.teardown());

  it('ipvsadm failing, printing garbage, hanging and missing: logged, nothing believed, converges when it works', async () => {
    lab.config(CONFIG);
    await lab.start({ env: { LDIRECTORD_IPVSADM_TIMEOUT: '3' } });
    await lab.settle(A + R1 + R2);

    const steps: [string, () => void, () => void, RegExp][] = [
      [
        'failing',
        () => lab.fault('fail'),
        () => lab.fault(null),
        /ipvsadm failed: .* -d -t 10\.0\.0\.1:80 -r 10\.9\.1\.2:8080: Memory allocation problem \(will retry\)/,
      ],
      ['garbage', () => lab.fault('garbage'), () => lab.fault(null), /cannot read the IPVS table: .*\(will retry\)/],
      ['hanging', () => lab.fault('hang'), () => lab.fault(null), /timed out after 3 s, killed/],
      [
        'missing',
        () => renameSync(lab.wrapper, lab.wrapper + '.away'),
        () => renameSync(lab.wrapper + '.away', lab.wrapper),
        /ENOENT/,
      ],
    ];
    for (const [what, breakIt, mend, logged] of steps) {
      const mark = lab.logText().length;
      breakIt();
      // A real fails while ipvsadm is broken: the table cannot follow, and must not be believed to.
      await lab.server('10.9.1.2:8080').stop();
      await lab.waitFor(`the ${what} ipvsadm logged`, () => logged.test(lab.logText().slice(mark)));
      if (what === 'garbage') {
        // Only reads are broken: the change goes through, planned from the last table read,
        // but the daemon cannot see it, so it believes nothing until it reads the table again.
        assert.ok(
          [canonical(A + R1 + R2), canonical(A + R1)].includes(lab.table()),
          `garbage: the table is either as it was or as planned`,
        );
      } else
        assert.equal(
          lab.table(),
          canonical(A + R1 + R2),
          `${what}: the table is as it was (the change could not be made)`,
        );
      assert.ok(alive(lab.pid()), `${what}: the daemon still runs`);
      mend();
      await lab.settle(A + R1);
      // And it comes back.
      await lab.server('10.9.1.2:8080').start();
      await lab.settle(A + R1 + R2);
    }
    const status = await lab.cli([lab.cfg, 'status']);
    assert.equal(status.code, 0);
  });

  it('the ip_vs module gone: errors logged, checks go on; once it loads again the whole table is rebuilt', async () => {
    const kver = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
    const modules = `/lib/modules/${kver}/kernel/net/netfilter/ipvs`;
    const empty = `${lab.dir}/no-modules`;
    mkdirSync(empty);
    // `ip netns exec` gives the daemon a mount namespace that is a slave of this one: make
    // mounts here shared, so hiding (and showing again) the modules reaches its ipvsadm too.
    execFileSync('mount', ['--make-rshared', '/']);
    lab.config(CONFIG);
    await lab.start();
    await lab.settle(A + R1 + R2);
    // Hide the modules (ipvsadm and the kernel would load them back), then unload ip_vs.
    execFileSync('mount', ['--bind', empty, modules]);
    try {
      const mark = lab.logText().length;
      // Namespaces of earlier tests are dismantled by the kernel in the background, each
      // holding ip_vs until then: under emulation and load that takes seconds.
      const until = Date.now() + 60_000;
      while (existsSync('/proc/net/ip_vs')) {
        if (Date.now() > until) throw new Error('could not unload ip_vs within 60 s');
        try {
          lab.ipvsadm('-C');
        } catch {
          // gone already
        }
        const loaded = readFileSync('/proc/modules', 'utf8')
          .split('\n')
          .map((l) => l.split(' ')[0]!)
          .filter((m) => /^ip_vs/.test(m));
        for (const m of loaded.filter((m) => m !== 'ip_vs').concat('ip_vs')) {
          try {
            execFileSync('rmmod', [m], { stdio: 'ignore' });
          } catch {
            // in use a moment longer: try again
          }
        }
        await sleep(50);
      }
      await lab.waitFor('the unreadable table logged', () =>
        /cannot read the IPVS table: [\s\S]*(Protocol not available|Can't initialize ipvs)/.test(
          lab.logText().slice(mark),
        ),
      );
      // Checks go on: .2 fails while there is no IPVS at all.
      await lab.server('10.9.1.2:8080').stop();
      await lab.waitFor('the failure seen', () => /Real server down: 10\.9\.1\.2:8080/.test(lab.logText().slice(mark)));
      assert.ok(alive(lab.pid()), 'the daemon still runs');
    } finally {
      execFileSync('umount', [modules]);
    }
    // ipvsadm loads ip_vs again by itself at the daemon's next read; the table is rebuilt.
    await lab.settle(A + R1);
    assert.ok(existsSync('/proc/net/ip_vs'));
  });

  it('SIGKILL at several moments of start-up, each followed by a start: converges, live reals never taken out', async () => {
    lab.config(CONFIG.replace('masq 2', 'masq 2\n\treal=10.9.1.3:8080 masq 3'));
    for (const delay of [0, 300, 1000, 2500]) {
      const starting = lab.cli([lab.cfg, 'start']);
      await lab.waitFor('a pid file', () => lab.pid() !== null && alive(lab.pid()));
      await sleep(delay);
      lab.signal('SIGKILL');
      await starting;
      await lab.waitFor('the daemon gone', () => !alive(lab.pid()));
    }
    await lab.start();
    await lab.settle(A + R1 + R2);
    const cmds = lab.commands();
    assert.ok(
      !cmds.some((c) => /^-d .*10\.9\.1\.[12]:8080/.test(c)),
      `a live real is never deleted: ${cmds.join('; ')}`,
    );
    assert.deepEqual(lab.weightsGiven('10.9.1.3:8080'), [], 'the dead real is never added');
  });

  it('1,000 HUPs in a burst around a config change leave one consistent state', async () => {
    lab.config(CONFIG);
    await lab.start();
    await lab.settle(A + R1 + R2);
    const pid = lab.pid()!;
    for (let i = 0; i < 500; i++) process.kill(pid, 'SIGHUP');
    lab.config(CONFIG.replace('masq 2', 'masq 6'));
    for (let i = 0; i < 500; i++) process.kill(pid, 'SIGHUP');
    await lab.settle(A + R1 + R2.replace('-w 2', '-w 6'), 4000);
    assert.ok(alive(pid), 'the same daemon runs');
    assert.ok(
      lab.recorded().every((r) => r.rc === 0),
      'no ipvsadm command failed',
    );
    const status = await lab.cli([lab.cfg, 'status']);
    assert.equal(status.code, 0);
  });

  it('TERM while a check hangs: stop returns, the daemon is gone and the table is clean', async () => {
    // 10.9.1.5 accepts connections and never answers an HTTP request.
    await lab.real('10.9.1.5', 8081);
    await lab.server('10.9.1.5:8081').stop();
    const sockets = new Set<Socket>();
    const hung: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => hung.listen(8081, '10.9.1.5', r));
    try {
      lab.config(`
checkinterval=1
negotiatetimeout=30
virtual=10.0.0.1:80
	real=10.9.1.1:8080 masq 1
	real=10.9.1.5:8081 masq 1
	service=http
`);
      await lab.start();
      await lab.waitTable(A + R1);
      await lab.waitFor('the hung check in flight', () => sockets.size > 0);
      const pid = lab.pid();
      await lab.stop();
      assert.ok(!alive(pid), 'the daemon is gone when stop returns');
      assert.equal(lab.table(), '');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => hung.close(() => r()));
    }
  });
});
