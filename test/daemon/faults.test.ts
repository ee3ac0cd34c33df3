/**
 * Reliability (issue 8, items 3 and 4): a failing ipvsadm, SIGKILL and restart, a storm
 * of HUPs, TERM during a hung check, and a log file that goes away or cannot be written.
 * In every case the daemon keeps checking, never believes a change that did not happen,
 * and converges once the fault is gone.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Director } from '../helpers/director';

const cfg = (extra = '') => `
checkinterval=1
checktimeout=1
quiescent=no
${extra}
virtual=10.0.0.1:80
	real=127.50.3.2:8080 masq
	real=127.50.3.3:8080 masq 2
	checktype=connect
`;
const full =
  '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.3.2:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 127.50.3.3:8080 -m -w 2\n';
const oneDown = '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.3.2:8080 -m -w 1\n';

/** An ipvsadm that misbehaves while a mode file exists, and is the recording one otherwise. */
function flakyIpvsadm(d: Director): string {
  const path = join(d.dir, 'flaky-ipvsadm');
  writeFileSync(
    path,
    `#!/bin/sh
D='${d.dir}'
[ -e "$D/mode.hang" ] && exec sleep 600
[ -e "$D/mode.fail" ] && { echo "Can't initialize ipvs: Protocol not available" >&2; echo "Are you sure that IP Virtual Server is built in the kernel or as module?" >&2; exit 1; }
[ -e "$D/mode.garbage" ] && { echo "Segmentation fault (core dumped) garbage 0x7f3a"; exit 0; }
exec '${d.ipvsadm}' "$@"
`,
  );
  chmodSync(path, 0o755);
  return path;
}

describe('faults', function () {
  this.timeout(120000);
  let d: Director;
  beforeEach(async () => {
    d = new Director();
    await d.listen('127.50.3.2', 8080);
    await d.listen('127.50.3.3', 8080);
  });
  afterEach(() => d.cleanup());

  it('ipvsadm missing at start: logged, checks go on, converges when it appears', async () => {
    const missing = join(d.dir, 'bin', 'ipvsadm');
    d.config(cfg());
    const r = await d.cli([d.cfg, 'start'], { env: { LDIRECTORD_IPVSADM: missing } });
    assert.equal(r.code, 0, r.stderr);
    await d.waitFor('the error logged', () => /cannot read the IPVS table: .*ENOENT.*\(will retry\)/.test(d.logText()));
    const st = JSON.parse((await d.cli([d.cfg, 'show', '--json'])).stdout);
    assert.ok(st.checks.completed >= 2, 'checks run without ipvsadm');
    mkdirSync(join(d.dir, 'bin'));
    writeFileSync(missing, `#!/bin/sh\nexec '${d.ipvsadm}' "$@"\n`);
    chmodSync(missing, 0o755);
    await d.waitTable(full);
  });

  for (const mode of ['fail', 'garbage', 'hang'] as const) {
    it(`ipvsadm ${mode === 'fail' ? 'exits non-zero (module missing)' : mode === 'garbage' ? 'prints garbage' : 'hangs (killed at its deadline)'}: nothing believed, converges after`, async () => {
      const flaky = flakyIpvsadm(d);
      d.config(cfg());
      const env = { LDIRECTORD_IPVSADM: flaky, LDIRECTORD_IPVSADM_TIMEOUT: '2' };
      assert.equal((await d.cli([d.cfg, 'start'], { env })).code, 0);
      await d.waitTable(full);
      writeFileSync(join(d.dir, `mode.${mode}`), '');
      const pattern = {
        fail: /Can't initialize ipvs/,
        garbage: /unexpected output from .* -S -n: "Segmentation fault/,
        hang: /timed out after 2 s, killed/,
      }[mode];
      await d.waitFor('the failure logged', () => pattern.test(d.logText()), 20000);
      // A real goes down while ipvsadm is broken: the change cannot be made, and is not
      // reported as made.
      await d.close('127.50.3.3', 8080);
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(d.table(), full, 'nothing could change while ipvsadm was broken');
      assert.ok(!/Deleted real server: 127\.50\.3\.3:8080/.test(d.logText()), 'no change believed');
      unlinkSync(join(d.dir, `mode.${mode}`));
      await d.waitTable(oneDown, 30000);
      // Logged once the daemon has read the table back and seen the change.
      await d.waitFor('the change logged', () =>
        /Deleted real server: 127\.50\.3\.3:8080 \(10\.0\.0\.1:80\)/.test(d.logText()),
      );
      assert.equal((await d.cli([d.cfg, 'stop'], { env })).code, 0);
    });
  }

  it('SIGKILL at any moment, then start: converges without flapping the live reals', async () => {
    d.config(cfg());
    for (let round = 0; round < 3; round++) {
      assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
      if (round === 0) await d.waitTable(full);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 1500)));
      const before = d.commands().length;
      process.kill(d.pid()!, 'SIGKILL');
      await d.waitFor('the daemon gone', () => (d.cli([d.cfg, 'status']), true));
      assert.equal((await d.cli([d.cfg, 'start'])).code, 0, 'start over a stale pid file');
      await d.waitTable(full);
      await new Promise((r) => setTimeout(r, 1500));
      const after = d.commands().slice(before);
      assert.ok(
        !after.some((c) => /^-[ad] .*127\.50\.3\.[23]:8080/.test(c)),
        `live reals untouched across the restart: ${after.join('; ')}`,
      );
      process.kill(d.pid()!, 'SIGKILL');
    }
  });

  it('1000 HUPs in a second leave one consistent state', async () => {
    d.config(cfg());
    assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
    await d.waitTable(full);
    d.config(cfg().replace('masq 2', 'masq 5'));
    const pid = d.pid()!;
    for (let i = 0; i < 1000; i++) process.kill(pid, 'SIGHUP');
    await d.waitTable(full.replace('-w 2', '-w 5'));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(d.table(), full.replace('-w 2', '-w 5'));
    assert.equal((await d.cli([d.cfg, 'status'])).code, 0, 'still running');
    const restores = d
      .logText()
      .split('\n')
      .filter((l) => l.includes('Restored real server: 127.50.3.3:8080')).length;
    assert.equal(restores, 1, 'the weight change applied once');
  });

  it('TERM while a check hangs: stops promptly with cleanup', async () => {
    const hung: Server = createServer(() => undefined); // accepts and never answers
    await new Promise<void>((r) => hung.listen(8081, '127.50.3.4', r));
    try {
      d.config(
        cfg() +
          `
virtual=10.0.0.2:80
	real=127.50.3.4:8081 masq
	service=http
	negotiatetimeout=60
`,
      );
      assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
      await d.waitTable(full + '-A -t 10.0.0.2:80 -s wrr\n');
      const st = JSON.parse((await d.cli([d.cfg, 'show', '--json'])).stdout);
      assert.ok(st.checks.inFlight >= 1, 'the hung check is in flight');
      const t0 = Date.now();
      assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
      console.log(`      stop with a 60 s check hanging took ${Date.now() - t0} ms`);
      assert.equal(d.pid(), null);
      assert.equal(d.table(), '');
      assert.match(d.logText(), /Linux Director Daemon terminated on signal: TERM/);
    } finally {
      hung.close();
    }
  });

  it('the log file disappearing, or the disk being full, does not stop the daemon', async () => {
    const logdir = join(d.dir, 'logs');
    mkdirSync(logdir);
    d.config(`logfile="${join(logdir, 'ld.log')}"\n` + cfg().replace(/^\n/, ''));
    assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
    await d.waitTable(full);
    // The daemon makes its log file again as it can: the removal may need another go.
    rmSync(logdir, { recursive: true, maxRetries: 10, retryDelay: 20 });
    await d.close('127.50.3.3', 8080);
    await d.waitTable(oneDown);
    assert.equal((await d.cli([d.cfg, 'status'])).code, 0);
    assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
    // A full disk: /dev/full takes the open and fails every write with ENOSPC.
    d.config(`logfile="/dev/full"\n` + cfg().replace(/^\n/, ''));
    await d.listen('127.50.3.3', 8080);
    assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
    await d.waitTable(full);
    await d.close('127.50.3.2', 8080);
    await d.waitTable('-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.3.3:8080 -m -w 2\n');
    assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
    assert.ok(!existsSync(join(d.runDir, `ldirectord.${d.name}.pid`)));
  });
});
