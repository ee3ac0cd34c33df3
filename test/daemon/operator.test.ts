/**
 * An operator replacing the Perl daemon (issue 18): relative paths, wrong argument orders,
 * restart and reload with a broken file, a broken file while reading the logs, a dry-run of a
 * candidate applied by hand, a shared log file, every `--json` in every state, and the
 * compatibility points of the original's logs. The director is never left with less than
 * it had.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { Director } from '../helpers/director';
import { closedPort, scrapeMetrics } from '../helpers/net';

const TWO_REALS = `-A -t 10.0.0.1:80 -s wrr
-a -t 10.0.0.1:80 -r 127.50.9.2:8080 -m -w 1
-a -t 10.0.0.1:80 -r 127.50.9.3:8080 -m -w 1
`;

const base = (extra = '') => `
checkinterval=1
checktimeout=1
quiescent=no
${extra}
virtual=10.0.0.1:80
	real=127.50.9.2:8080 masq
	real=127.50.9.3:8080 masq
	checktype=connect
`;

/** 10.0.0.1:80 and 10.0.0.2:80, each with one real (port 8080), connect checks. */
const twoVirtuals = (real1: string, real2: string, extra = '') => `
checkinterval=1
checktimeout=1
${extra}
virtual=10.0.0.1:80
	real=${real1}:8080 masq
	checktype=connect
virtual=10.0.0.2:80
	real=${real2}:8080 masq
	checktype=connect
`;

/** The same file with a forwarding method the original refuses, at the second real's line. */
const broken = () => base().replace('127.50.9.3:8080 masq', '127.50.9.3:8080 nat');

describe('operator walkthrough (CLI)', function () {
  this.timeout(90000);
  let d: Director;
  beforeEach(async () => {
    d = new Director();
    await d.listen('127.50.9.2', 8080);
    await d.listen('127.50.9.3', 8080);
  });
  afterEach(() => d.cleanup());

  it('a relative CONFIG is found by start, by every reload after, and by restart', async () => {
    d.config(base());
    const cwd = dirname(d.cfg);
    const rel = `./${basename(d.cfg)}`;
    let r = await d.cli([rel, 'start'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    await d.waitTable(TWO_REALS);
    // The daemon left the caller's directory but kept the file: a reload reads it.
    d.config(base().replace('real=127.50.9.3:8080 masq', 'real=127.50.9.3:8080 masq 4'));
    r = await d.cli([rel, 'reload'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    await d.waitTable(TWO_REALS.replace('127.50.9.3:8080 -m -w 1', '127.50.9.3:8080 -m -w 4'));
    const before = d.pid();
    r = await d.cli([rel, 'restart'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(d.pid(), before);
    await d.waitTable(TWO_REALS.replace('127.50.9.3:8080 -m -w 1', '127.50.9.3:8080 -m -w 4'));
    assert.doesNotMatch(d.logText(), /not found/);
  });

  it('restart, try-restart, reload and force-reload with a broken file keep the daemon and its table', async () => {
    d.config(base());
    assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
    await d.waitTable(TWO_REALS);
    const pid = d.pid();
    const commands = d.commands().length;
    d.config(broken());
    for (const cmd of ['restart', 'try-restart', 'reload', 'force-reload']) {
      const r = await d.cli([d.cfg, cmd]);
      assert.equal(r.code, 2, `${cmd}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /^Error \[\d+\] reading file .* at line \d+: forward method must be gate, masq or ipip\n$/,
      );
      assert.equal(d.pid(), pid, `${cmd} left the daemon running`);
    }
    assert.equal(d.table(), TWO_REALS);
    assert.equal(d.commands().length, commands, 'nothing was purged or re-applied');
    assert.match(d.logText(), /Exiting with exit_status 2: config_error: Configuration Error/);
  });

  it('the original argument order: `start CONFIG` is usage, `start stop` is "Config file start not found"; nothing starts', async () => {
    d.config(base());
    let r = await d.cli(['start', d.cfg]);
    assert.equal(r.code, 255);
    assert.match(r.stderr + r.stdout, /Usage:/);
    r = await d.cli(['start', 'stop'], { cwd: d.dir });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Config file start not found\n');
    assert.equal(d.pid(), null);
    assert.deepEqual(d.commands(), []);
  });

  it('a broken file on disk: logs still works (and says so), status and metrics say the reload failed', async () => {
    const port = await closedPort('127.0.0.1');
    d.config(base());
    assert.equal((await d.cli(['--metrics', String(port), d.cfg, 'start'])).code, 0);
    await d.waitTable(TWO_REALS);
    let m = await scrapeMetrics(port);
    assert.match(m, /^ldirectord_config_last_reload_successful 1$/m);
    assert.match(m, /^ldirectord_config_last_reload_success_timestamp_seconds \d{10}(\.\d+)?$/m);
    d.config(broken());
    process.kill(d.pid()!, 'SIGHUP');
    m = await d.waitFor('the failed reload in the metrics', async () => {
      const t = await scrapeMetrics(port);
      return /^ldirectord_config_last_reload_successful 0$/m.test(t) ? t : false;
    });
    const status = await d.cli([d.cfg, 'status']);
    assert.equal(status.code, 0);
    assert.match(
      status.stderr,
      /\nldirectord for .* is running with pid: \d+\nlast reload failed at \d{4}-\d\d-\d\dT[^:]+:\d\d:\d\d\.\d+Z: Error \[\d+\] reading file .* at line \d+: forward method must be gate, masq or ipip/,
    );
    const verbose = await d.cli([d.cfg, 'status', '-v']);
    assert.match(verbose.stdout, /last reload failed at .*forward method must be gate, masq or ipip/);
    const logs = await d.cli([d.cfg, 'logs', '-n', '50']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(
      logs.stderr,
      /forward method must be gate, masq or ipip; showing .*ldirectord\.log, the running daemon's log file/,
    );
    assert.match(logs.stdout, /Starting Linux Director/);
    // A good file again: said everywhere.
    d.config(base());
    process.kill(d.pid()!, 'SIGHUP');
    await d.waitFor('the good reload in the metrics', async () =>
      /^ldirectord_config_last_reload_successful 1$/m.test(await scrapeMetrics(port)),
    );
    assert.doesNotMatch((await d.cli([d.cfg, 'status'])).stderr, /last reload failed/);
  });

  it('logs with a broken file and no daemon: the log file it names above the error, said on stderr', async () => {
    d.config(broken());
    const r = await d.cli([d.cfg, 'logs']);
    assert.ok(
      r.stderr.includes(
        `forward method must be gate, masq or ipip; showing ${d.log}, the log file it names before the error`,
      ),
      r.stderr,
    );
    assert.notEqual(r.code, 2);
  });

  it('a metrics port in use is a start error, and nothing is changed', async () => {
    const busy = createServer();
    const port = await closedPort('127.0.0.1');
    await new Promise<void>((resolve) => busy.listen(port, '127.0.0.1', resolve));
    try {
      d.config(base());
      const r = await d.cli(['--metrics', String(port), d.cfg, 'start']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /metrics endpoint 127\.0\.0\.1:\d+: listen EADDRINUSE/);
      assert.equal(d.pid(), null);
      assert.deepEqual(d.commands(), []);
    } finally {
      busy.close();
    }
  });

  it('"keeps its configuration" is said only when a daemon runs', async () => {
    d.config(broken());
    const r = await d.cli([d.cfg, 'status']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^Warning \[\d+\] reading file .* at line \d+: forward method/);
    assert.doesNotMatch(r.stderr, /running daemon keeps/);
  });

  it('every --json output is JSON when the daemon is stopped or the file is broken', async () => {
    d.config(base());
    const show = await d.cli([d.cfg, 'show', '--json']);
    assert.equal(show.code, 3);
    assert.deepEqual(JSON.parse(show.stdout), { running: false, config: d.cfg });
    const verbose = await d.cli([d.cfg, 'status', '-v', '--json']);
    assert.deepEqual(JSON.parse(verbose.stdout), { running: false, config: d.cfg });
    d.config(broken());
    for (const args of [
      ['--check', '--json', d.cfg],
      ['--dry-run', '--json', d.cfg],
    ]) {
      const r = await d.cli(args);
      assert.equal(r.code, 2);
      const doc = JSON.parse(r.stdout) as { error: { line: number; message: string } };
      assert.equal(doc.error.message, 'forward method must be gate, masq or ipip');
    }
  });

  it('--check --json shows passwd, login, secret and URL userinfo as ***', async () => {
    d.config(`
virtual=10.0.0.1:3306
	real=127.50.9.2:3306 masq
	service=mysql
	checktype=negotiate
	login="dbuser"
	passwd="s3cret-pw"
	database="db"
	request="SELECT 1"
virtual=10.0.0.1:80
	real=127.50.9.2:80 masq
	service=http
	checktype=negotiate
	request="http://admin:hunter22@127.50.9.2/health"
	receive="OK"
`);
    const r = await d.cli(['--check', '--json', d.cfg]);
    assert.equal(r.code, 0, r.stderr);
    for (const secret of ['dbuser', 's3cret-pw', 'hunter22', 'admin:']) assert.ok(!r.stdout.includes(secret), secret);
    assert.match(r.stdout, /"passwd": "\*\*\*"/);
    assert.match(r.stdout, /\/\/\*\*\*@127\.50\.9\.2\/health/);
  });
});

describe('operator walkthrough: logs of one instance on a shared log file', function () {
  this.timeout(60000);
  let a: Director;
  beforeEach(() => {
    a = new Director('a.cf');
  });
  afterEach(() => a.cleanup());

  it('shows only the lines of the given config name, unless --all', async () => {
    a.config('checkinterval=1\n');
    const line = (cfg: string, pid: number, msg: string) =>
      `[Mon Dec  7 10:00:0${pid % 10} 2026|${cfg}|${pid}] ${msg}\n`;
    writeFileSync(
      a.log,
      line('a.cf', 101, 'Starting Linux Director v1.186-ha as daemon') +
        line('b.cf', 202, 'Starting Linux Director v1.186-ha as daemon') +
        line('b.cf', 202, 'Added real server: 10.9.9.9:80 (10.0.0.9:80) (Weight set to 1)') +
        line('a.cf', 101, 'Added real server: 10.1.1.1:80 (10.0.0.1:80) (Weight set to 1)'),
    );
    const own = await a.cli([a.cfg, 'logs', '--json']);
    assert.equal(own.code, 0, own.stderr);
    const mine = own.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { cfgname: string; virtual?: string });
    assert.deepEqual(
      mine.map((l) => l.cfgname),
      ['a.cf', 'a.cf'],
    );
    assert.equal(mine[1]!.virtual, '10.0.0.1:80');
    const all = await a.cli([a.cfg, 'logs', '--all']);
    assert.equal(all.stdout.trim().split('\n').length, 4);
  });
});

describe('operator walkthrough: compatibility with the original', function () {
  this.timeout(90000);
  let d: Director;
  beforeEach(async () => {
    d = new Director();
    await d.listen('127.50.9.2', 8080);
  });
  afterEach(() => d.cleanup());

  it('a reload that makes a virtual quiescent puts its down reals back at weight 0, as the original', async () => {
    // 127.50.9.3 never answers: down from its first check.
    d.config(base());
    assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
    await d.waitTable('-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.9.2:8080 -m -w 1\n');
    d.config(base().replace('quiescent=no', 'quiescent=yes'));
    process.kill(d.pid()!, 'SIGHUP');
    await d.waitTable(TWO_REALS.replace('127.50.9.3:8080 -m -w 1', '127.50.9.3:8080 -m -w 0'));
  });

  it('a real shared by two virtuals, down at start with quiescent=yes, is placed at weight 0 in both (a difference)', async () => {
    d.config(twoVirtuals('127.50.9.3', '127.50.9.3', 'quiescent=yes'));
    assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
    await d.waitTable(
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.9.3:8080 -m -w 0\n' +
        '-A -t 10.0.0.2:80 -s wrr\n-a -t 10.0.0.2:80 -r 127.50.9.3:8080 -m -w 0\n',
    );
  });

  it('purge order at stop: every real line, then every virtual line, one -D each (a difference)', async () => {
    await d.listen('127.50.9.3', 8080);
    d.config(twoVirtuals('127.50.9.2', '127.50.9.3'));
    assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
    await d.waitFor('both reals in', () => (d.table().match(/-w 1/g) ?? []).length === 2);
    const before = d.commands().length;
    assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
    const purges = d
      .logText()
      .split('\n')
      .filter((l) => l.includes('Purged'))
      .map((l) => l.replace(/^\[[^\]]*\] /, ''));
    assert.deepEqual(purges, [
      'Purged real server (stop): 127.50.9.2:8080 (10.0.0.1:80)',
      'Purged real server (stop): 127.50.9.3:8080 (10.0.0.2:80)',
      'Purged virtual server (stop): 10.0.0.1:80',
      'Purged virtual server (stop): 10.0.0.2:80',
    ]);
    // One batch (the recording ipvsadm marks the commands of an `ipvsadm -R` with `-R:`).
    assert.deepEqual(d.commands().slice(before), ['-R: -D -t 10.0.0.1:80', '-R: -D -t 10.0.0.2:80']);
    assert.equal(d.table(), '');
  });

  it('-d uses ./ipvsadm from the current directory, as the original (only one nobody else could have put there)', async () => {
    const here = join(d.dir, 'cwd');
    mkdirSync(here);
    const script = join(here, 'ipvsadm');
    // The fake kernel's ipvsadm, behind a ./ipvsadm that leaves a trace.
    writeFileSync(script, `#!/bin/sh\necho "$@" >> ${join(here, 'used')}\nexec ${d.ipvsadm} "$@"\n`);
    chmodSync(script, 0o755);
    d.config(base());
    const env = { LDIRECTORD_IPVSADM: '' };
    const run = d.cli(['-d', d.cfg, 'start'], { cwd: here, env, timeoutMs: 20000 });
    await d.waitFor('./ipvsadm used', () => {
      try {
        return readFileSync(join(here, 'used'), 'utf8').includes('-a');
      } catch {
        return false;
      }
    });
    const pgrep = spawnSync('pgrep', ['-f', `${d.cfg} start`], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n');
    for (const p of pgrep) if (p) process.kill(Number(p), 'SIGTERM');
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    // Group-writable: not trusted.
    chmodSync(script, 0o775);
    writeFileSync(join(here, 'used'), '');
    const run2 = d.cli(['-d', d.cfg, 'start'], { cwd: here, env: { LDIRECTORD_IPVSADM: d.ipvsadm }, timeoutMs: 20000 });
    await d.waitFor('the table from the configured ipvsadm', () => d.table().includes('127.50.9.2:8080'));
    for (const p of spawnSync('pgrep', ['-f', `${d.cfg} start`], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n'))
      if (p) process.kill(Number(p), 'SIGTERM');
    await run2;
    assert.equal(readFileSync(join(here, 'used'), 'utf8'), '');
  });
});
