/**
 * E-mail alerts at unit level: the engine runs in fake time against the fake kernel, its
 * events are fed to the plugin, and the mail goes over real SMTP to a real server on
 * loopback (smtp-server), or to a recording stand-in for sendmail.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { EmailAlerts, alertFor, composeAlert, recipients, type EmailAlertOptions } from '../../src/daemon/alerts';
import type { DaemonStatus } from '../../src/parser/model';
import { harness, type Harness } from '../engine/harness';
import { smtpSink, subjectOf, testHost, type SmtpSink, type TestHost } from './helpers';

const farm = (extra = '', virt = '') => `
checkinterval=2
quiescent=no
${extra}
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq
	real=127.0.0.3:8080 masq 5
	service=http
	emailalert="ops@example.org, oncall@example.org"
	smtp=127.0.0.1
${virt}
`;

interface Rig {
  h: Harness & { cfg: Awaited<ReturnType<typeof harness>>['cfg'] };
  host: TestHost;
  alerts: EmailAlerts;
  /** Feed the engine's events so far to the plugin, with the daemon in `status`. */
  feed(status?: DaemonStatus): void;
}

async function rig(
  text: string,
  servers: Record<string, 'up' | 'down'>,
  opts: EmailAlertOptions & { table?: string[] },
  status: DaemonStatus = 'running',
): Promise<Rig> {
  const h = await harness(text, { servers, table: opts.table });
  const host = testHost(h.cfg, status);
  const alerts = new EmailAlerts({ hostname: 'lvs1', user: 'ldadmin', clock: h.clock, ...opts });
  alerts.start(host);
  return {
    h,
    host,
    alerts,
    feed(s?: DaemonStatus) {
      if (s) host.status = s;
      for (const e of h.events.splice(0)) alerts.event(e);
    },
  };
}

describe('e-mail alerts', function () {
  this.timeout(20000);
  let sink: SmtpSink;
  let dir: string;
  beforeEach(async () => {
    sink = await smtpSink({ refuse: ['nobody@example.org'] });
    dir = mkdtempSync(join(tmpdir(), 'ld-alerts-'));
  });
  afterEach(async () => {
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends the original's subject and body over SMTP, and every address of the list gets it (W-7)", async () => {
    const r = await rig(
      farm('', '\tservicename=web farm\n\tcomment=front end pool'),
      { '127.0.0.2': 'up', '127.0.0.3': 'up' },
      { smtpPort: sink.port },
    );
    await r.h.engine.start(r.h.cfg);
    await r.h.tick(0);
    r.feed('starting');
    await r.alerts.idle();
    const mails = await sink.waitFor(2);
    assert.equal(mails.length, 2);
    const m = mails.find((x) => subjectOf(x).includes('127.0.0.2'))!;
    assert.equal(m.from, 'ldadmin@lvs1', 'envelope sender: <user>@<hostname>');
    assert.deepEqual(m.to, ['ops@example.org', 'oncall@example.org'], 'one RCPT per address');
    assert.equal(
      m.raw,
      'From: ldadmin@lvs1\r\n' +
        'To: ops@example.org, oncall@example.org\r\n' +
        'Subject: [web farm] Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)\r\n' +
        '\r\n' +
        'ldirectord host: lvs1\r\n' +
        'Log-Message: [web farm] Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)\r\n' +
        'Daemon-Status: starting\r\n' +
        '\r\n' +
        'Service name: web farm\r\n' +
        'Comment: front end pool\r\n' +
        '\r\n',
    );
    // The log line carries the subject without the [servicename].
    assert.ok(
      r.host.logs.includes('emailalert: Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)'),
      r.host.logs.join('\n'),
    );
    assert.ok(r.host.logs.includes('emailalert: Added real server: 127.0.0.3:8080 (10.0.0.1:80) (Weight set to 5)'));
    assert.equal(r.alerts.stats.sent, 2);
  });

  it('without servicename the subject is the bare message and the body has no extra part; emailalertfrom sets From only', async () => {
    const r = await rig(
      farm('emailalertfrom=LVS alerts <lvs@example.org>'),
      { '127.0.0.2': 'up', '127.0.0.3': 'down' },
      { smtpPort: sink.port },
    );
    await r.h.engine.start(r.h.cfg);
    await r.h.tick(0);
    r.feed('running');
    const [m] = await sink.waitFor(1);
    assert.equal(m!.from, 'ldadmin@lvs1', 'the envelope stays <user>@<hostname>');
    assert.equal(
      m!.raw,
      'From: LVS alerts <lvs@example.org>\r\nTo: ops@example.org, oncall@example.org\r\nSubject: Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)\r\n\r\n' +
        'ldirectord host: lvs1\r\nLog-Message: Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)\r\nDaemon-Status: running\r\n',
    );
  });

  it('emailalertstatus=none sends nothing; emailalertstatus=running skips starting, stopping and reloading', async () => {
    const none = await rig(
      farm('emailalertstatus=none'),
      { '127.0.0.2': 'up', '127.0.0.3': 'up' },
      { smtpPort: sink.port },
    );
    await none.h.engine.start(none.h.cfg);
    await none.h.tick(0);
    none.feed('running');
    await none.alerts.idle();
    assert.ok(!none.host.logs.some((l) => l.startsWith('emailalert:')));

    const running = await rig(
      farm('emailalertstatus=running'),
      { '127.0.0.2': 'up', '127.0.0.3': 'up' },
      { smtpPort: sink.port },
    );
    await running.h.engine.start(running.h.cfg);
    await running.h.tick(0);
    running.feed('starting'); // the start-up alerts
    running.h.servers.set('127.0.0.3', 'down');
    await running.h.tick(2100);
    running.feed('reloading');
    running.h.servers.set('127.0.0.3', 'up');
    await running.h.tick(2100);
    running.feed('running');
    await running.h.engine.stop();
    running.feed('stopping');
    await running.alerts.idle();
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(sink.mails.map(subjectOf), ['Added real server: 127.0.0.3:8080 (10.0.0.1:80) (Weight set to 5)']);
    assert.match(sink.mails[0]!.raw, /Daemon-Status: running\r\n/);
  });

  it('reminds "Inaccessible real server" every emailalertfreq seconds until the real is back', async () => {
    const r = await rig(farm('emailalertfreq=3'), { '127.0.0.2': 'up', '127.0.0.3': 'up' }, { smtpPort: sink.port });
    await r.h.engine.start(r.h.cfg);
    await r.h.tick(0);
    r.feed('running');
    await sink.waitFor(2);
    r.h.servers.set('127.0.0.3', 'down');
    await r.h.tick(2100);
    r.feed();
    await sink.waitFor(3);
    assert.equal(subjectOf(sink.mails[2]!), 'Deleted real server: 127.0.0.3:8080 (10.0.0.1:80)');
    assert.deepEqual(r.alerts.pendingReminders, ['127.0.0.3:8080 (10.0.0.1:80)']);
    await r.h.tick(2999);
    r.feed();
    await r.alerts.idle();
    assert.equal(sink.mails.length, 3, 'not before emailalertfreq seconds');
    await r.h.tick(1);
    await sink.waitFor(4);
    assert.equal(subjectOf(sink.mails[3]!), 'Inaccessible real server: 127.0.0.3:8080 (10.0.0.1:80)');
    assert.match(
      sink.mails[3]!.raw,
      /\r\nLog-Message: Inaccessible real server: 127\.0\.0\.3:8080 \(10\.0\.0\.1:80\)\r\nDaemon-Status: running\r\n/,
    );
    await r.h.tick(3000);
    r.feed();
    await sink.waitFor(5);
    assert.equal(subjectOf(sink.mails[4]!), 'Inaccessible real server: 127.0.0.3:8080 (10.0.0.1:80)');
    r.h.servers.set('127.0.0.3', 'up');
    await r.h.tick(1000);
    r.feed();
    await sink.waitFor(6);
    assert.equal(subjectOf(sink.mails[5]!), 'Added real server: 127.0.0.3:8080 (10.0.0.1:80) (Weight set to 5)');
    assert.deepEqual(r.alerts.pendingReminders, []);
    await r.h.tick(10_000);
    r.feed();
    await r.alerts.idle();
    assert.equal(sink.mails.length, 6, 'no reminder once it is back');
  });

  it('quiescent: Quiescent and Readd Quiescent alerts (mailed as "Quiescent …", as Perl) start reminders; the fallback alerts do not', async () => {
    const r = await rig(
      farm('quiescent=yes\nemailalertfreq=5\nfallback=127.0.0.1:80'),
      { '127.0.0.2': 'up', '127.0.0.3': 'down' },
      { smtpPort: sink.port },
    );
    await r.h.engine.start(r.h.cfg);
    await r.h.tick(0);
    r.feed('starting');
    await sink.waitFor(2);
    assert.deepEqual(sink.mails.map(subjectOf).sort(), [
      'Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)',
      'Quiescent real server: 127.0.0.3:8080 (10.0.0.1:80) (Weight set to 0)',
    ]);
    assert.ok(
      r.h.logs.includes('Readd Quiescent real server: 127.0.0.3:8080 (10.0.0.1:80) (Weight set to 0)'),
      'the log line keeps Readd',
    );
    r.h.servers.set('127.0.0.2', 'down');
    await r.h.tick(2100);
    r.feed('running');
    await sink.waitFor(4);
    assert.deepEqual(sink.mails.slice(2).map(subjectOf).sort(), [
      'Added fallback server: 127.0.0.1:80 (10.0.0.1:80) (Weight set to 1)',
      'Quiescent real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 0)',
    ]);
    assert.deepEqual(r.alerts.pendingReminders.sort(), [
      '127.0.0.2:8080 (10.0.0.1:80)',
      '127.0.0.3:8080 (10.0.0.1:80)',
    ]);
    r.h.servers.set('127.0.0.2', 'up');
    await r.h.tick(2000);
    r.feed();
    await sink.waitFor(6);
    assert.deepEqual(sink.mails.slice(4).map(subjectOf).sort(), [
      'Deleted fallback server: 127.0.0.1:80 (10.0.0.1:80)',
      'Restored real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)',
    ]);
    assert.deepEqual(r.alerts.pendingReminders, ['127.0.0.3:8080 (10.0.0.1:80)']);
  });

  it('Purged real server alerts: stale reals at start, and every up real at stop in stopping status', async () => {
    const r = await rig(
      farm(),
      { '127.0.0.2': 'up', '127.0.0.3': 'up' },
      { smtpPort: sink.port, table: ['-A -t 10.0.0.1:80 -s wrr', '-a -t 10.0.0.1:80 -r 1.1.1.1:80 -m -w 1'] },
    );
    await r.h.engine.start(r.h.cfg);
    await r.h.tick(0);
    r.feed('starting');
    await sink.waitFor(3);
    assert.ok(sink.mails.map(subjectOf).includes('Purged real server (start): 1.1.1.1:80 (10.0.0.1:80)'));
    await r.h.engine.stop();
    r.feed('stopping');
    await r.alerts.stop();
    await sink.waitFor(5);
    const stop = sink.mails.slice(3);
    assert.deepEqual(stop.map(subjectOf), [
      'Purged real server (stop): 127.0.0.2:8080 (10.0.0.1:80)',
      'Purged real server (stop): 127.0.0.3:8080 (10.0.0.1:80)',
    ]);
    for (const m of stop) assert.match(m.raw, /\r\nDaemon-Status: stopping\r\n/);
  });

  it('events from before start() are alerted with Daemon-Status: starting', async () => {
    const h = await harness(farm(), { servers: { '127.0.0.2': 'up', '127.0.0.3': 'down' } });
    await h.engine.start(h.cfg);
    await h.tick(0);
    const alerts = new EmailAlerts({ hostname: 'lvs1', user: 'ldadmin', clock: h.clock, smtpPort: sink.port });
    for (const e of h.events.splice(0)) alerts.event(e);
    alerts.start(testHost(h.cfg, 'running'));
    const [m] = await sink.waitFor(1);
    assert.match(m!.raw, /\r\nDaemon-Status: starting\r\n/);
  });

  it('never puts passwd or login in a mail', async () => {
    const r = await rig(
      farm(
        '',
        '\tlogin="monuser"\n\tpasswd="Sekr3tPw"\n\tservicename=web (monuser)\n\tcomment=checked as monuser with Sekr3tPw',
      ),
      { '127.0.0.2': 'up', '127.0.0.3': 'down' },
      { smtpPort: sink.port },
    );
    await r.h.engine.start(r.h.cfg);
    await r.h.tick(0);
    r.feed();
    const [m] = await sink.waitFor(1);
    assert.ok(!m!.raw.includes('Sekr3tPw') && !m!.raw.includes('monuser'), m!.raw);
    assert.match(m!.raw, /\r\nComment: checked as \*\*\* with \*\*\*\r\n/);
    assert.match(m!.raw, /^Subject: \[web \(\*\*\*\)\] Added real server/m);
  });

  it('a refused address does not stop the others; a dead relay is logged for each mail, never fatal', async () => {
    const r = await rig(
      farm('', '\temailalert="nobody@example.org, ops@example.org"'),
      { '127.0.0.2': 'up', '127.0.0.3': 'down' },
      { smtpPort: sink.port },
    );
    await r.h.engine.start(r.h.cfg);
    await r.h.tick(0);
    r.feed();
    const [m] = await sink.waitFor(1);
    assert.deepEqual(sink.rcptSeen, ['nobody@example.org', 'ops@example.org']);
    assert.deepEqual(m!.to, ['ops@example.org']);
    await r.alerts.idle();
    assert.ok(
      r.host.logs.some((l) =>
        /^ERROR failed to send SMTP email message to nobody@example\.org: refused by 127\.0\.0\.1:\d+$/.test(l),
      ),
      r.host.logs.join('\n'),
    );

    // Nothing listens on this port.
    const closed = await freePort();
    const dead = await rig(farm(), { '127.0.0.2': 'up', '127.0.0.3': 'up' }, { smtpPort: closed });
    await dead.h.engine.start(dead.h.cfg);
    await dead.h.tick(0);
    dead.feed();
    await dead.alerts.idle();
    assert.equal(
      dead.host.logs.filter((l) => l.startsWith('ERROR failed to send SMTP email message: 127.0.0.1:')).length,
      2,
      dead.host.logs.join('\n'),
    );
    assert.equal(dead.alerts.stats.failed, 2);
  });

  it('a relay that never answers is given up after the timeout, and event() never waits for it', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s)); // accepts, never greets
    await new Promise<void>((res) => silent.listen(0, '127.0.0.1', () => res()));
    try {
      const r = await rig(
        farm(),
        { '127.0.0.2': 'up', '127.0.0.3': 'down' },
        { smtpPort: (silent.address() as AddressInfo).port, timeoutMs: 300 },
      );
      await r.h.engine.start(r.h.cfg);
      await r.h.tick(0);
      const t0 = Date.now();
      r.feed();
      assert.ok(Date.now() - t0 < 100, 'event() returns at once');
      await r.alerts.idle();
      assert.ok(Date.now() - t0 < 3000);
      assert.ok(
        r.host.logs.some((l) => l.startsWith('ERROR failed to send SMTP email message: 127.0.0.1:')),
        r.host.logs.join('\n'),
      );
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((res) => silent.close(res));
    }
  });

  it('without smtp=, hands the message to sendmail -t -i (argv, no shell); without sendmail says so', async () => {
    const sendmail = join(dir, 'sendmail');
    writeFileSync(sendmail, `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/argv"\ncat > "${dir}/stdin"\n`);
    chmodSync(sendmail, 0o755);
    const text = farm('emailalertfrom=lvs@example.org').replace('\tsmtp=127.0.0.1\n', '');
    const r = await rig(text, { '127.0.0.2': 'up', '127.0.0.3': 'down' }, { sendmail });
    await r.h.engine.start(r.h.cfg);
    await r.h.tick(0);
    r.feed();
    await r.alerts.idle();
    assert.equal(readFileSync(join(dir, 'argv'), 'utf8'), '-t\n-i\n');
    assert.equal(
      readFileSync(join(dir, 'stdin'), 'utf8'),
      'From: lvs@example.org\nTo: ops@example.org, oncall@example.org\nSubject: Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)\n\n' +
        'ldirectord host: lvs1\nLog-Message: Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)\nDaemon-Status: running\n',
    );
    assert.equal(r.alerts.stats.sent, 1);

    const none = await rig(text, { '127.0.0.2': 'up', '127.0.0.3': 'down' }, { sendmail: null });
    await none.h.engine.start(none.h.cfg);
    await none.h.tick(0);
    none.feed();
    await none.alerts.idle();
    assert.ok(none.host.logs.includes('emailalert: Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)'));
    assert.ok(
      none.host.logs.some((l) => l.startsWith('ERROR failed to send email message: no mailer available')),
      none.host.logs.join('\n'),
    );
  });

  it('--dry-run logs what it would mail and sends nothing', async () => {
    const r = await rig(farm(), { '127.0.0.2': 'up', '127.0.0.3': 'down' }, { smtpPort: sink.port, dryRun: true });
    await r.h.engine.start(r.h.cfg);
    await r.h.tick(0);
    r.feed();
    await r.alerts.idle();
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(sink.mails.length, 0);
    assert.ok(
      r.host.logs.includes(
        `dry-run: would mail "Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)" to ops@example.org, oncall@example.org via 127.0.0.1:${sink.port}`,
      ),
      r.host.logs.join('\n'),
    );
  });

  it('only the lines the original alerts for make an alert', async () => {
    const r = await rig(farm('failurecount=2'), { '127.0.0.2': 'up', '127.0.0.3': 'up' }, { smtpPort: sink.port });
    await r.h.engine.start(r.h.cfg);
    await r.h.tick(0);
    r.h.servers.set('127.0.0.3', 'down');
    await r.h.tick(2100); // a soft failure
    const alerted = r.h.events
      .map(alertFor)
      .filter((a) => a !== null)
      .map((a) => a!.subject);
    assert.deepEqual(alerted.sort(), [
      'Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)',
      'Added real server: 127.0.0.3:8080 (10.0.0.1:80) (Weight set to 5)',
    ]);
    assert.ok(r.h.logs.includes('Added virtual server: 10.0.0.1:80'), 'logged, not alerted');
    assert.ok(
      r.h.logs.some((l) => l.startsWith('Soft failure real server:')),
      'logged, not alerted',
    );
  });

  it('composes and splits as documented', () => {
    assert.deepEqual(recipients('a@example.org,b@example.org , "Doe, J" <j@example.org>'), [
      'a@example.org',
      'b@example.org',
      'j@example.org',
    ]);
    assert.equal(
      composeAlert({
        from: null,
        to: 'a@x',
        subject: 's',
        hostname: 'h',
        status: 'reloading',
        servicename: '0',
        comment: 'c',
      }),
      'To: a@x\nSubject: s\n\nldirectord host: h\nLog-Message: s\nDaemon-Status: reloading\n\nComment: c\n\n',
      'servicename "0" is false in Perl',
    );
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}
