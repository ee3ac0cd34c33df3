/**
 * `ldirectord CONFIG logs` end to end (without -f): where the logs are, -n, the filters,
 * --since, --json, colour on a terminal and off everywhere else, exit codes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, requirePart, which } from '../helpers/env';
import { cleanEnv, logDir, runLogs, stamped, type LogDir } from './run';

const DAY = new Date(2026, 10, 21, 10, 50, 0);
const min = (m: number, s = 0) => new Date(DAY.getTime() + m * 60_000 + s * 1000);

/** A morning of the daemon's life, one line a minute from 10:50. */
const MESSAGES = [
  'Invoking ldirectord invoked as: /usr/sbin/ldirectord web.cf start ',
  'Starting Linux Director v1.186-ha as daemon',
  'Added virtual server: 10.0.0.1:80',
  'Added real server: 10.0.1.1:8080 (10.0.0.1:80) (Weight set to 1)',
  'Added real server: 10.0.1.2:8080 (10.0.0.1:80) (Weight set to 1)',
  'Added virtual server: 5',
  'Added real server: 10.0.1.1:0 (5) (Weight set to 1)',
  'Soft failure real server: 10.0.1.2:8080 (tcp:10.0.0.1:80) failure 1/2: connect: ECONNREFUSED',
  'Real server down: 10.0.1.2:8080 (tcp:10.0.0.1:80): connect: ECONNREFUSED',
  'Deleted real server: 10.0.1.2:8080 (10.0.0.1:80)',
  'Real server down: 10.0.1.1:0 (fwm:5): connect: ETIMEDOUT',
  'Quiescent real server: 10.0.1.1:0 (5) (Weight set to 0)',
  'Real server up: 10.0.1.2:8080 (tcp:10.0.0.1:80): HTTP 200',
  'Resetting soft failure count: 10.0.1.2:8080 (tcp:10.0.0.1:80)',
  'Added real server: 10.0.1.2:8080 (10.0.0.1:80) (Weight set to 1)',
];
const messagesOf = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^\[[^\]]*\] /, ''));

describe('logs: the command', function () {
  let d: LogDir;
  before(() => {
    d = logDir();
    MESSAGES.forEach((m, i) => d.append([m], min(i)));
  });
  after(() => d.remove());

  it('prints the last 10 lines by default, as written', () => {
    const r = runLogs([d.config, 'logs']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      MESSAGES.slice(-10)
        .map((m, i) => stamped(m, min(i + 5)))
        .join(''),
    );
  });

  it('-n N, -nN and -n 0', () => {
    assert.deepEqual(messagesOf(runLogs([d.config, 'logs', '-n', '3']).stdout), MESSAGES.slice(-3));
    assert.deepEqual(messagesOf(runLogs([d.config, 'logs', '-n2']).stdout), MESSAGES.slice(-2));
    assert.deepEqual(messagesOf(runLogs([d.config, 'logs', '-n', '100']).stdout), MESSAGES);
    assert.equal(runLogs([d.config, 'logs', '-n', '0']).stdout, '');
  });

  it('--virtual in each form', () => {
    const web = MESSAGES.filter((m) => /10\.0\.0\.1:80\)|\(tcp:10\.0\.0\.1:80\)|server: 10\.0\.0\.1:80$/.test(m));
    assert.deepEqual(messagesOf(runLogs([d.config, 'logs', '-n', '100', '--virtual', '10.0.0.1:80']).stdout), web);
    assert.deepEqual(messagesOf(runLogs([d.config, 'logs', '-n', '100', '--virtual', 'tcp:10.0.0.1:80']).stdout), web);
    const fwm = [
      'Added virtual server: 5',
      'Added real server: 10.0.1.1:0 (5) (Weight set to 1)',
      'Real server down: 10.0.1.1:0 (fwm:5): connect: ETIMEDOUT',
      'Quiescent real server: 10.0.1.1:0 (5) (Weight set to 0)',
    ];
    assert.deepEqual(messagesOf(runLogs([d.config, 'logs', '-n', '100', '--virtual', '5']).stdout), fwm);
    assert.deepEqual(messagesOf(runLogs([d.config, 'logs', '-n', '100', '--virtual', 'fwm:5']).stdout), fwm);
    assert.deepEqual(messagesOf(runLogs([d.config, 'logs', '--virtual', 'fwm:5', '-n', '1']).stdout), fwm.slice(-1));
  });

  it('--real with and without a port, and with --virtual', () => {
    assert.deepEqual(messagesOf(runLogs([d.config, 'logs', '-n', '100', '--real', '10.0.1.1']).stdout), [
      'Added real server: 10.0.1.1:8080 (10.0.0.1:80) (Weight set to 1)',
      'Added real server: 10.0.1.1:0 (5) (Weight set to 1)',
      'Real server down: 10.0.1.1:0 (fwm:5): connect: ETIMEDOUT',
      'Quiescent real server: 10.0.1.1:0 (5) (Weight set to 0)',
    ]);
    assert.deepEqual(messagesOf(runLogs([d.config, 'logs', '--real', '10.0.1.1:8080']).stdout), [
      'Added real server: 10.0.1.1:8080 (10.0.0.1:80) (Weight set to 1)',
    ]);
    assert.deepEqual(
      messagesOf(runLogs([d.config, 'logs', '-n', '2', '--real', '10.0.1.2', '--virtual', '10.0.0.1:80']).stdout),
      [
        'Resetting soft failure count: 10.0.1.2:8080 (tcp:10.0.0.1:80)',
        'Added real server: 10.0.1.2:8080 (10.0.0.1:80) (Weight set to 1)',
      ],
    );
  });

  it('--since an ISO time, a log stamp', () => {
    const r = runLogs([d.config, 'logs', '-n', '100', '--since', '2026-11-21T11:02']);
    assert.deepEqual(messagesOf(r.stdout), MESSAGES.slice(12));
    assert.deepEqual(
      messagesOf(runLogs([d.config, 'logs', '-n', '100', '--since', 'Sat Nov 21 11:03:00 2026']).stdout),
      MESSAGES.slice(13),
    );
    assert.deepEqual(
      messagesOf(runLogs([d.config, 'logs', '-n', '1', '--since', '2026-11-21 10:55', '--real', '10.0.1.2']).stdout),
      MESSAGES.slice(-1),
    );
    assert.equal(runLogs([d.config, 'logs', '--since', '2026-11-22']).stdout, '');
  });

  it('--json: one object per line with the event', () => {
    const r = runLogs([d.config, 'logs', '--json', '-n', '2', '--virtual', '5']);
    assert.equal(r.status, 0, r.stderr);
    const objs = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      objs.map(({ time: _t, ...o }) => o),
      [
        {
          cfgname: 'web.cf',
          pid: 4242,
          message: 'Real server down: 10.0.1.1:0 (fwm:5): connect: ETIMEDOUT',
          event: 'real-down',
          virtual: 'fwm:5',
          real: '10.0.1.1:0',
          reason: 'connect: ETIMEDOUT',
        },
        {
          cfgname: 'web.cf',
          pid: 4242,
          message: 'Quiescent real server: 10.0.1.1:0 (5) (Weight set to 0)',
          event: 'real-quiescent',
          virtual: 'fwm:5',
          real: '10.0.1.1:0',
          weight: 0,
        },
      ],
    );
    assert.deepEqual(
      objs.map((o) => Date.parse(o.time)),
      [min(10).getTime(), min(11).getTime()],
    );
  });

  it('--json before the command word works too; the time carries the local offset', () => {
    const r = spawnSync(process.execPath, [CLI, '--json', d.config, 'logs', '-n', '1'], {
      encoding: 'utf8',
      env: cleanEnv({ TZ: 'Asia/Kathmandu' }),
    });
    const o = JSON.parse(r.stdout);
    assert.equal(o.event, 'real-added');
    assert.match(o.time, /^2026-11-\d\dT\d\d:\d\d:00\+05:45$/);
  });

  it('no escape codes when stdout is not a terminal', () => {
    const r = runLogs([d.config, 'logs', '-n', '100']);
    assert.equal(r.status, 0);
    assert.doesNotMatch(r.stdout, /\x1b/);
  });

  describe('on a terminal', () => {
    const script = which('script');
    /** Run under script(1), which gives the command a pseudo-terminal as stdout. */
    const onTty = (args: string[], env: Record<string, string> = {}) => {
      const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      const r = spawnSync(script!, ['-qec', [process.execPath, CLI, ...args].map(q).join(' '), '/dev/null'], {
        encoding: 'utf8',
        env: cleanEnv({ TERM: 'xterm', ...env }),
      });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.replace(/\r\n/g, '\n');
    };
    before(function () {
      requirePart(this, script ? null : 'script(1) (util-linux) is not installed');
    });

    it('down red, quiesced and soft failures yellow, up green, the rest plain', () => {
      const out = onTty([d.config, 'logs', '-n', '8']).split('\n').filter(Boolean);
      const colourOf = (l: string) =>
        l.startsWith('\x1b[31m')
          ? 'red'
          : l.startsWith('\x1b[33m')
            ? 'yellow'
            : l.startsWith('\x1b[32m')
              ? 'green'
              : l.includes('\x1b')
                ? 'other'
                : 'plain';
      assert.deepEqual(
        out.map(colourOf),
        ['plain', 'yellow', 'red', 'red', 'red', 'yellow', 'green', 'plain', 'green'].slice(-8),
      );
      for (const l of out.filter((l) => l.includes('\x1b'))) assert.ok(l.endsWith('\x1b[0m'), l);
    });

    it('NO_COLOR (any value, even empty) turns colour off', () => {
      assert.doesNotMatch(onTty([d.config, 'logs', '-n', '8'], { NO_COLOR: '1' }), /\x1b/);
      assert.doesNotMatch(onTty([d.config, 'logs', '-n', '8'], { NO_COLOR: '' }), /\x1b/);
    });

    it('--json is never coloured', () => {
      assert.doesNotMatch(onTty([d.config, 'logs', '--json']), /\x1b/);
    });
  });
});

describe('logs: where the logs are', () => {
  let d: LogDir;
  beforeEach(() => (d = logDir()));
  afterEach(() => d.remove());

  it('syslog: says where to look and exits 2', () => {
    const cf = join(d.dir, 'sys.cf');
    writeFileSync(cf, 'logfile="local0"\n');
    const r = runLogs([cf, 'logs']);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `ldirectord for ${cf} logs to syslog facility local0: try journalctl -t ldirectord or /var/log/syslog\n`,
    );
  });

  it('supervised=yes: the supervisor has them; exits 2', () => {
    const cf = join(d.dir, 'sup.cf');
    writeFileSync(cf, `supervised=yes\nlogfile="${d.log}"\n`);
    d.append(['Added virtual server: 10.0.0.1:80']);
    const r = runLogs([cf, 'logs']);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /supervised=yes.*supervisor's stdout/);
  });

  it('a log file that does not exist: exit 1', () => {
    const r = runLogs([d.config, 'logs']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot open log file .*ldirectord\.log: No such file or directory/);
  });

  it('a config that does not exist: exit 1; one with errors: the log file it names before the error, said so', () => {
    assert.equal(runLogs([join(d.dir, 'nope.cf'), 'logs']).status, 1);
    const bad = join(d.dir, 'bad.cf');
    writeFileSync(bad, `logfile="${d.log}"\nvirtual=10.0.0.1:80\n\tbogus=1\n`);
    d.append(['Added virtual server: 10.0.0.1:80']);
    const r = runLogs([bad, 'logs', '--all']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /line 3: .*; showing .*ldirectord\.log, the log file it names before the error/);
    assert.match(r.stdout, /Added virtual server: 10\.0\.0\.1:80/);
  });

  it('an empty log file prints nothing', () => {
    writeFileSync(d.log, '');
    const r = runLogs([d.config, 'logs']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, '');
  });

  it('option values that cannot be read: exit 255 with the reason', () => {
    d.append(['Added virtual server: 10.0.0.1:80']);
    for (const args of [
      ['--since', 'soon'],
      ['--virtual', 'www:80'],
      ['--real', 'nope'],
    ]) {
      const r = runLogs([d.config, 'logs', ...args]);
      assert.equal(r.status, 255, args.join(' '));
      assert.match(r.stderr, new RegExp(`^ldirectord logs: ${args[0]} `));
    }
  });

  it('--since a duration, against lines stamped hours and seconds ago', () => {
    const now = Date.now();
    d.append(['Real server down: 10.0.1.1:8080 (tcp:10.0.0.1:80): old'], new Date(now - 5 * 3600_000));
    d.append(['Real server down: 10.0.1.1:8080 (tcp:10.0.0.1:80): an hour ago'], new Date(now - 3600_000));
    d.append(['Real server up: 10.0.1.1:8080 (tcp:10.0.0.1:80): recent'], new Date(now - 5000));
    assert.deepEqual(messagesOf(runLogs([d.config, 'logs', '--since', '10m']).stdout), [
      'Real server up: 10.0.1.1:8080 (tcp:10.0.0.1:80): recent',
    ]);
    assert.deepEqual(messagesOf(runLogs([d.config, 'logs', '--since', '2h']).stdout).length, 2);
    assert.deepEqual(messagesOf(runLogs([d.config, 'logs', '--since', '1d']).stdout).length, 3);
  });
});
