/**
 * The daemon as scripts use it: start, status, reload, stop, with the original's exit
 * codes and texts (spec §1.3), against the recording ipvsadm and real TCP listeners.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Director } from '../helpers/director';

const base = (extra = '') => `
checkinterval=1
checktimeout=1
quiescent=no
${extra}
virtual=10.0.0.1:80
	real=127.50.0.2:8080 masq
	real=127.50.0.3:8080 masq 3
	checktype=connect
`;

describe('daemon lifecycle (CLI)', function () {
  this.timeout(60000);
  let d: Director;
  beforeEach(async () => {
    d = new Director();
    await d.listen('127.50.0.2', 8080);
    await d.listen('127.50.0.3', 8080);
  });
  afterEach(() => d.cleanup());

  it('start, status, start again, stop, status: exit codes and texts', async () => {
    d.config(base());
    let r = await d.cli([d.cfg, 'status']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, `ldirectord is stopped for ${d.cfg}\n`);
    r = await d.cli([d.cfg, 'start']);
    assert.equal(r.code, 0, r.stderr);
    const pid = d.pid();
    assert.ok(pid, 'pid file written before start returns');
    r = await d.cli([d.cfg, 'status']);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, `ldirectord for ${d.cfg} is running with pid: ${pid}\n`);
    await d.waitTable(
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.0.2:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 127.50.0.3:8080 -m -w 3\n',
    );
    r = await d.cli([d.cfg, 'start']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout + r.stderr, '', 'start when running is silent');
    r = await d.cli([d.cfg, 'stop']);
    assert.equal(r.code, 0);
    // stop waited for the cleanup (cleanstop=yes by default)
    assert.equal(d.table(), '');
    assert.equal(d.pid(), null, 'pid file removed');
    assert.match(
      d.logText(),
      /Purged virtual server \(stop\): 10\.0\.0\.1:80\n.*Linux Director Daemon terminated on signal: TERM/s,
    );
    r = await d.cli([d.cfg, 'status']);
    assert.equal(r.code, 3);
  });

  it('status reports a stale pid file (exit 1) and reload when stopped exits 1', async () => {
    d.config(base());
    writeFileSync(join(d.runDir, `ldirectord.${d.name}.pid`), '999999\n');
    let r = await d.cli([d.cfg, 'status']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `ldirectord stale pid file ${join(d.runDir, `ldirectord.${d.name}.pid`)} for ${d.cfg}\n`);
    assert.equal(r.stdout, `ldirectord is stopped for ${d.cfg}\n`);
    r = await d.cli([d.cfg, 'reload']);
    assert.equal(r.code, 1);
    assert.match(d.logText(), /ldirectord is stopped for /);
  });

  it('a config error at start exits 2 with file and line, and touches nothing', async () => {
    d.config(base() + '\tscheduler=WRR\n');
    const r = await d.cli([d.cfg, 'start']);
    assert.equal(r.code, 2);
    // The original's words, with the pid of the command that read the file.
    assert.equal(
      r.stderr.replace(/^Error \[\d+\]/, 'Error [PID]'),
      `Error [PID] reading file ${d.cfg} at line 10: invalid scheduler, should be only lowercase letters (a-z)\n`,
    );
    assert.equal(d.pid(), null);
    assert.deepEqual(d.commands(), []);
  });

  it('a missing config file exits 1; usage errors exit 255', async () => {
    let r = await d.cli([join(d.dir, 'nope.cf'), 'start']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Config file .*nope\.cf not found/);
    r = await d.cli([]);
    assert.equal(r.code, 255);
    r = await d.cli(['--bogus', 'start']);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Unknown option: bogus/);
    r = await d.cli([d.cfg, 'frobnicate']);
    assert.equal(r.code, 255);
  });

  it('W-1: with a broken config, status still reports the running daemon and stop still stops it', async () => {
    d.config(base());
    assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
    const pid = d.pid();
    writeFileSync(d.cfg, 'this is not a config\n');
    let r = await d.cli([d.cfg, 'status']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(d.pid(), pid, 'the running daemon keeps its pid file');
    r = await d.cli([d.cfg, 'stop']);
    assert.equal(r.code, 0);
    assert.equal(d.pid(), null);
  });

  it('-d runs in the foreground, logs to stderr, writes no pid file, and exits 0 on TERM', async () => {
    d.config(base());
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../helpers/env.js');
    const c = spawn(process.execPath, [CLI, '-d', d.cfg, 'start'], { env: d.env });
    let err = '';
    c.stderr.on('data', (b) => (err += b));
    await d.waitFor('real servers added', () => err.includes('Added real server: 127.50.0.3:8080'));
    assert.equal(d.pid(), null);
    assert.match(err, /^Starting Linux Director v1\.186-ha with pid: \d+$/m);
    c.kill('SIGTERM');
    const code = await new Promise((r) => c.on('exit', r));
    assert.equal(code, 0);
    assert.match(err, /Linux Director Daemon terminated on signal: TERM/);
  });

  it('HUP reloads: virtuals added, changed and removed; unchanged reals are not touched', async () => {
    d.config(
      base() +
        `
virtual=10.0.0.2:80
	real=127.50.0.2:8080 masq
	checktype=connect
`,
    );
    assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
    await d.waitTable(
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.0.2:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 127.50.0.3:8080 -m -w 3\n-A -t 10.0.0.2:80 -s wrr\n-a -t 10.0.0.2:80 -r 127.50.0.2:8080 -m -w 1\n',
    );
    const before = d.commands().length;
    d.config(
      base().replace('masq 3', 'masq 5').replace('quiescent=no', 'quiescent=no') +
        `
virtual=10.0.0.3:80
	real=127.50.0.3:8080 masq
	checktype=connect
	scheduler=rr
`,
    );
    assert.equal((await d.cli([d.cfg, 'reload'])).code, 0);
    await d.waitTable(
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.0.2:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 127.50.0.3:8080 -m -w 5\n-A -t 10.0.0.3:80 -s rr\n-a -t 10.0.0.3:80 -r 127.50.0.3:8080 -m -w 1\n',
    );
    const changes = d.commands().slice(before);
    assert.ok(
      !changes.some((c) => /127\.50\.0\.2:8080/.test(c) && c.includes('10.0.0.1:80')),
      `unchanged real untouched: ${changes.join('; ')}`,
    );
    assert.match(d.logText(), /Reloading Linux Director Daemon config on signal/);
    // The line is written once the read-back confirms the purge, a moment after the table shows it.
    await d.waitFor('the purge logged', () => /Purged virtual server \(start\): 10\.0\.0\.2:80/.test(d.logText()));
  });

  it('a reload with a broken file keeps the running config and table, and logs the error with its line', async () => {
    d.config(base());
    assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
    const table =
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.0.2:8080 -m -w 1\n-a -t 10.0.0.1:80 -r 127.50.0.3:8080 -m -w 3\n';
    await d.waitTable(table);
    const before = d.commands().length;
    writeFileSync(d.cfg, `logfile="${d.log}"\nvirtual=10.0.0.1:80\n\treal=127.50.0.2:8080 nat\n`);
    // The CLI refuses to ask for a reload of a broken file (and keeps the pid file: W-1)…
    const r = await d.cli([d.cfg, 'reload']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /at line 3: forward method must be gate, masq or ipip/);
    assert.ok(d.pid());
    // …and a HUP sent anyway leaves the running daemon untouched.
    process.kill(d.pid()!, 'SIGHUP');
    await d.waitFor('the error logged', () =>
      /Error \[\d+\] reading file .* at line 3: forward method must be gate, masq or ipip \(keeping the running configuration\)/.test(
        d.logText(),
      ),
    );
    // and the running config still works: a failure is still acted upon
    await d.close('127.50.0.3', 8080);
    await d.waitTable('-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.0.2:8080 -m -w 1\n');
    assert.deepEqual(d.commands().slice(before), ['-d -t 10.0.0.1:80 -r 127.50.0.3:8080']);
  });
});
