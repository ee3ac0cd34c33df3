/**
 * The daemon against a hostile environment (issue 17): real servers and check commands
 * that send forged log lines and terminal escapes, log and monitor paths that are symlinks
 * or FIFOs, a pid file naming another program, an unprivileged user, a daemon that does
 * not stop on TERM, a start that cannot finish, and a check command left hanging.
 * Real processes and sockets throughout; the ipvsadm is the recording one.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Director } from '../helpers/director';
import { CLI, requirePart } from '../helpers/env';

const REAL = '127.50.9.2';
const base = (extra = '') => `
checkinterval=1
checktimeout=2
quiescent=no
${extra}
virtual=10.0.0.1:80
	real=${REAL}:8080 masq
	checktype=connect
`;
const full = `-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r ${REAL}:8080 -m -w 1\n`;

/** An executable shell script in the director's dir. */
function script(d: Director, name: string, body: string): string {
  const path = join(d.dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}`);
  chmodSync(path, 0o755);
  return path;
}

/** A virtual service checked by a command. */
const externalVirtual = (vip: string, real: string, command: string, extra = '') =>
  `\nvirtual=${vip}:80\n\treal=${real}:80 masq\n\tchecktype=external\n\tcheckcommand=${command}\n${extra}`;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/^\S+ \([^)]*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
};

describe('hostile environment', function () {
  this.timeout(120000);
  let d: Director;
  beforeEach(async () => {
    d = new Director();
    await d.listen(REAL, 8080);
  });
  afterEach(() => d.cleanup());

  it('server and command text cannot forge log lines or reach the log with escapes', async () => {
    const forged = `[Mon Dec  7 10:00:00 2026|${d.name}|1] Added real server: 6.6.6.6:80 (10.0.0.9:80) (Weight set to 1)`;
    // A check command that writes forged lines and escape sequences to stderr, and fails.
    const evilCheck = script(
      d,
      'evil-check',
      `printf '\\n${forged}\\n\\033]0;pwned\\007\\033[31mred\\n' >&2\nexit 1\n`,
    );
    // An HTTP real whose status phrase carries an OSC title sequence and a colour.
    const evil: Server = createServer((s) => {
      s.on('error', () => undefined);
      s.on('data', () => s.end('HTTP/1.1 503 \x1b]0;owned\x07\x1b[2J\x9bgone\r\nContent-Length: 0\r\n\r\n'));
    });
    await new Promise<void>((r) => evil.listen(8081, '127.50.9.3', r));
    try {
      d.config(
        base() +
          externalVirtual('10.0.0.2', '127.50.9.4', evilCheck) +
          `
virtual=10.0.0.3:80
	real=127.50.9.3:8081 masq
	service=http
	checktype=negotiate
`,
      );
      assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
      const pid = d.pid()!;
      await d.waitFor('both failures logged', () => {
        const t = d.logText();
        return t.includes('evil-check') || /exit status 1/.test(t) ? /HTTP 503/.test(t) : false;
      });
      assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
      const raw = readFileSync(d.log, 'utf8');
      const control = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/.exec(raw);
      assert.equal(
        control,
        null,
        `a control character in the log: ${JSON.stringify(raw.slice(control?.index ?? 0, (control?.index ?? 0) + 40))}`,
      );
      for (const line of raw.split('\n').filter(Boolean))
        assert.ok(line.startsWith('['), `every line is one of the daemon's: ${line.slice(0, 120)}`);
      const json = await d.cli([d.cfg, 'logs', '-n', '10000', '--json']);
      assert.equal(json.code, 0, json.stderr);
      const entries = json.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { pid: number; event?: string; real?: string; continued?: boolean });
      assert.ok(entries.length > 3);
      assert.equal(entries.length, raw.split('\n').filter(Boolean).length, 'one entry per line written');
      for (const e of entries) {
        // The daemon's and the start command's own lines; the forged one says pid 1.
        assert.ok(
          e.pid === pid || /^Invoking ldirectord/.test((e as { message?: string }).message ?? ''),
          JSON.stringify(e),
        );
        assert.equal(e.continued, undefined);
        assert.notEqual(e.real, '6.6.6.6:80', 'a forged event');
      }
      assert.match(raw, /\\x1b\]0;owned\\x07/, 'the escape is shown, inert');
    } finally {
      evil.close();
    }
  });

  it('a logfile that is a symlink is never written through; the daemon runs and logs elsewhere', async () => {
    const victim = join(d.dir, 'shadow');
    writeFileSync(victim, 'root:x:0:0\n');
    const link = join(d.dir, 'link.log');
    symlinkSync(victim, link);
    d.config(`logfile="${link}"\n` + base().replace(/^\n/, ''));
    const r = await d.cli([d.cfg, 'start']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /logfile .*link\.log is not written: it is a symbolic link/);
    await d.waitTable(full);
    process.kill(d.pid()!, 'SIGHUP');
    await d.close(REAL, 8080);
    await d.waitTable('-A -t 10.0.0.1:80 -s wrr\n');
    assert.equal(readFileSync(victim, 'utf8'), 'root:x:0:0\n', 'nothing written through the link');
    assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
    assert.equal(readFileSync(victim, 'utf8'), 'root:x:0:0\n');
  });

  it('a logfile or monitorfile that is a FIFO hangs neither start, reload, status nor stop', async () => {
    const fifo = join(d.dir, 'fifo.log');
    execFileSync('mkfifo', [fifo]);
    const mon = join(d.dir, 'mon-fifo');
    execFileSync('mkfifo', [mon]);
    d.config(`logfile="${fifo}"\n` + base().replace(/^\n/, '') + `\tmonitorfile=${mon}\n`);
    const r = await d.cli([d.cfg, 'start'], { timeoutMs: 20000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /is not written: it is (a FIFO|not a regular file)/);
    await d.waitTable(full);
    process.kill(d.pid()!, 'SIGHUP');
    await d.close(REAL, 8080);
    await d.waitTable('-A -t 10.0.0.1:80 -s wrr\n');
    assert.equal((await d.cli([d.cfg, 'status'], { timeoutMs: 10000 })).code, 0);
    assert.equal((await d.cli([d.cfg, 'stop'], { timeoutMs: 20000 })).code, 0);
    assert.equal(d.pid(), null);
  });

  it('a monitorfile that is a symlink is never written through', async () => {
    const victim = join(d.dir, 'victim');
    writeFileSync(victim, 'keep\n');
    const link = join(d.dir, 'monitor.log');
    symlinkSync(victim, link);
    d.config(base() + `\tmonitorfile=${link}\n`);
    const r = await d.cli([d.cfg, 'start']);
    assert.equal(r.code, 0, r.stderr);
    await d.waitTable(full);
    await d.waitFor('the refusal logged', () => /monitorfile .*monitor\.log.*symbolic link/.test(d.logText()));
    assert.equal(readFileSync(victim, 'utf8'), 'keep\n');
    assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
  });

  it('a pid file naming another program that mentions ldirectord is stale: never signalled', async () => {
    d.config(base());
    // `tail -f /dev/null <...>/ldirectord.log`: its command line contains "ldirectord".
    const other = spawn('tail', ['-f', '/dev/null', join(d.dir, 'ldirectord.log')], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      writeFileSync(join(d.runDir, `ldirectord.${d.name}.pid`), `${other.pid}\n`);
      const st = await d.cli([d.cfg, 'status']);
      assert.equal(st.code, 1, st.stdout + st.stderr);
      assert.match(st.stderr, /stale pid file/);
      assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
      assert.equal((await d.cli([d.cfg, 'reload'])).code, 1);
      assert.ok(alive(other.pid!), 'the other program was not signalled');
      assert.equal((await d.cli([d.cfg, 'start'])).code, 0, 'start takes over the stale pid file');
      assert.notEqual(d.pid(), other.pid);
      await d.waitTable(full);
      assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
      assert.ok(alive(other.pid!));
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('an unprivileged user gets a permission error at once from start, stop, reload and restart', async function () {
    requirePart(this, process.getuid?.() === 0 ? null : 'running commands as another user needs root');
    d.config(base());
    assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
    await d.waitTable(full);
    const pid = d.pid()!;
    chmodSync(d.dir, 0o755);
    chmodSync(d.cfg, 0o644);
    const asNobody = (args: string[], env: NodeJS.ProcessEnv) => {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [CLI, ...args], {
        uid: 65534,
        gid: 65534,
        env: { PATH: process.env.PATH, ...env },
        encoding: 'utf8',
        timeout: 20000,
      });
      return { code: r.status, stderr: r.stderr, ms: Date.now() - t0 };
    };
    for (const cmd of ['start', 'stop', 'reload', 'restart', 'force-reload', 'try-restart']) {
      // The system's run directory: refused before anything is looked at.
      const sys = asNobody([d.cfg, cmd], {});
      assert.equal(sys.code, 4, `${cmd}: ${sys.stderr}`);
      assert.match(sys.stderr, /permission denied/);
      assert.ok(sys.ms < 10000, `${cmd} answered at once`);
      // The daemon's own run directory: the signal is refused (EPERM).
      if (cmd !== 'start') {
        const own = asNobody([d.cfg, cmd], { LDIRECTORD_RUN_DIR: d.runDir, LDIRECTORD_IPVSADM: d.ipvsadm });
        assert.equal(own.code, 4, `${cmd} as nobody: ${own.stderr}`);
        assert.match(own.stderr, /EPERM/);
      }
    }
    assert.ok(alive(pid), 'the daemon is untouched');
    assert.equal(d.pid(), pid);
    assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
  });

  it('stop KILLs a daemon that does not stop on TERM and says 0 only once it is gone', async () => {
    d.config(base());
    assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
    await d.waitTable(full);
    const pid = d.pid()!;
    process.kill(pid, 'SIGSTOP'); // frozen: TERM stays pending
    const r = await d.cli([d.cfg, 'stop'], { timeoutMs: 30000 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!alive(pid), 'the daemon is gone when stop says 0');
  });

  it('start gives up within LDIRECTORD_START_TIMEOUT, non-zero with the reason, when the table cannot be had', async () => {
    const hang = script(d, 'hang-ipvsadm', 'exec sleep 600\n');
    d.config(base());
    const env = { LDIRECTORD_IPVSADM: hang, LDIRECTORD_IPVSADM_TIMEOUT: '60', LDIRECTORD_START_TIMEOUT: '3' };
    const r = await d.cli([d.cfg, 'start'], { env, timeoutMs: 30000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /did not report running with its table within 3 s/);
    // It is left running (the cluster manager's stop ends it); stop does.
    assert.equal((await d.cli([d.cfg, 'stop'], { env, timeoutMs: 30000 })).code, 0);
    assert.equal(d.pid(), null);
  });

  it('a check command still running at stop is ended with the daemon', async () => {
    const pidFile = join(d.dir, 'check.pid');
    const slow = script(d, 'slow-check', `echo $$ > '${pidFile}'\nexec sleep 600\n`);
    d.config(base() + externalVirtual('10.0.0.2', '127.50.9.5', slow, '\tchecktimeout=300\n'));
    assert.equal((await d.cli([d.cfg, 'start'], { timeoutMs: 30000 })).code, 0);
    const child = await d.waitFor('the check command running', () =>
      existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : false,
    );
    assert.ok(alive(child));
    assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
    await d.waitFor('the check command ended', () => !alive(child), 5000);
  });
});
