/**
 * Alerts and monitorfile through a real daemon run:
 *   node dist/cli.js -d --ipvsadm <recording fake ipvsadm> CONFIG start
 * checking a real local TCP server (checktype=connect) that the test stops and starts
 * again, mailing over SMTP to a real SMTP server on loopback (LDIRECTORD_SMTP_PORT, the
 * test knob for smtp='s fixed port 25).
 */
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT, requirePart } from '../helpers/env';
import { smtpSink, subjectOf, type Received, type SmtpSink } from './helpers';

interface Backend {
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function backend(): Promise<Backend> {
  let server: Server | null = null;
  const sockets = new Set<Socket>();
  let port = 0;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((c) => {
        sockets.add(c);
        c.on('close', () => sockets.delete(c));
        c.end();
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });
  await start();
  return {
    get port() {
      return port;
    },
    start,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const c of sockets) c.destroy();
        server!.close(() => resolve());
      }),
  };
}

describe('alerts and monitorfile in a running daemon', function () {
  this.timeout(60000);
  let dir: string;
  let sink: SmtpSink;
  let be: Backend;
  let child: ChildProcess | null = null;
  let stderr = '';

  before(function () {
    requirePart(
      this,
      existsSync(CLI) && existsSync(join(ROOT, 'dist', 'testing', 'fake-ipvsadm.js'))
        ? null
        : 'dist/ is not built (npm run build)',
    );
  });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ld-alerts-daemon-'));
    sink = await smtpSink();
    be = await backend();
  });

  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await be.stop().catch(() => undefined);
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Wait for a mail whose subject matches, among those not yet taken. */
  async function mail(re: RegExp, taken: Set<Received>, ms = 15000): Promise<Received> {
    const until = Date.now() + ms;
    for (;;) {
      const m = sink.mails.find((x) => !taken.has(x) && re.test(subjectOf(x)));
      if (m) {
        taken.add(m);
        return m;
      }
      if (Date.now() > until)
        throw new Error(
          `no mail matching ${re} within ${ms} ms; got: ${sink.mails.map(subjectOf).join(' / ')}\n--- daemon stderr ---\n${stderr}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('mails start-up, failure, reminder, recovery and stop to both addresses, writes the monitorfile, leaks no secret', async () => {
    const ipvsadm = execFileSync(
      process.execPath,
      [join(ROOT, 'dist', 'testing', 'fake-ipvsadm.js'), '--install', dir],
      {
        encoding: 'utf8',
      },
    ).trim();
    const monitor = join(dir, 'monitor.log');
    const cf = join(dir, 'alerts.cf');
    writeFileSync(
      cf,
      `checkinterval=1
checktimeout=1
quiescent=no
emailalertfrom=lvs-alerts@example.org
virtual=10.9.9.9:80
	real=127.0.0.1:${be.port} masq 2
	checktype=connect
	emailalert="ops@example.org, oncall@example.org"
	emailalertfreq=1
	smtp=127.0.0.1
	servicename=demo
	comment=probe account monuser / Sekr3tPw
	login="monuser"
	passwd="Sekr3tPw"
	monitorfile=${monitor}
`,
    );
    child = spawn(process.execPath, [CLI, '-d', '--ipvsadm', ipvsadm, cf, 'start'], {
      env: { ...process.env, LDIRECTORD_SMTP_PORT: String(sink.port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    const taken = new Set<Received>();
    const real = `127.0.0.1:${be.port}`;
    const esc = real.replace(/\./g, '\\.');

    const added = await mail(
      new RegExp(`^\\[demo\\] Added real server: ${esc} \\(10\\.9\\.9\\.9:80\\) \\(Weight set to 2\\)$`),
      taken,
    );
    assert.deepEqual(added.to, ['ops@example.org', 'oncall@example.org'], 'W-7: each address is a recipient');
    assert.match(added.from, /^.+@.+$/, 'envelope sender <user>@<hostname>');
    assert.match(
      added.raw,
      /^From: lvs-alerts@example\.org\r\nTo: ops@example\.org, oncall@example\.org\r\nSubject: \[demo\] Added real server: /,
    );
    assert.match(
      added.raw,
      /\r\nDaemon-Status: starting\r\n\r\nService name: demo\r\nComment: probe account \*\*\* \/ \*\*\*\r\n/,
      'the first check is part of starting',
    );

    await be.stop();
    const deleted = await mail(new RegExp(`^\\[demo\\] Deleted real server: ${esc} \\(10\\.9\\.9\\.9:80\\)$`), taken);
    assert.match(deleted.raw, /\r\nDaemon-Status: running\r\n/);
    const reminder = await mail(
      new RegExp(`^\\[demo\\] Inaccessible real server: ${esc} \\(10\\.9\\.9\\.9:80\\)$`),
      taken,
    );
    assert.deepEqual(reminder.to, ['ops@example.org', 'oncall@example.org']);

    await be.start();
    await mail(
      new RegExp(`^\\[demo\\] Added real server: ${esc} \\(10\\.9\\.9\\.9:80\\) \\(Weight set to 2\\)$`),
      taken,
    );

    // A reload that adds a real: its first result is alerted while reloading.
    const be2 = await backend();
    try {
      writeFileSync(cf, readFileSync(cf, 'utf8').replace(/^(\treal=.*)$/m, `$1\n\treal=127.0.0.1:${be2.port} masq`));
      child.kill('SIGHUP');
      const reloaded = await mail(
        new RegExp(
          `^\\[demo\\] Added real server: 127\\.0\\.0\\.1:${be2.port} \\(10\\.9\\.9\\.9:80\\) \\(Weight set to 1\\)$`,
        ),
        taken,
      );
      assert.match(reloaded.raw, /\r\nDaemon-Status: reloading\r\n/);
    } finally {
      await be2.stop();
    }
    child.kill('SIGTERM');
    const purged = await mail(
      new RegExp(`^\\[demo\\] Purged real server \\(stop\\): ${esc} \\(10\\.9\\.9\\.9:80\\)$`),
      taken,
    );
    assert.match(purged.raw, /\r\nDaemon-Status: stopping\r\n/);
    assert.equal(await exited, 0);

    assert.match(stderr, new RegExp(`emailalert: Deleted real server: ${esc} \\(10\\.9\\.9\\.9:80\\)`));
    const ops = readFileSync(join(dir, 'ipvsadm.log'), 'utf8');
    assert.match(ops, new RegExp(`-a -t 10\\.9\\.9\\.9:80 -r ${esc} -m -w 2`));
    assert.match(ops, new RegExp(`-d -t 10\\.9\\.9\\.9:80 -r ${esc}`));

    const lines = readFileSync(monitor, 'utf8').split('\n').filter(Boolean);
    const id = `connect tcp 127.0.0.1 ${be.port} 2 masq / `;
    const up = new RegExp(
      `^\\[\\w{3} \\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\d{4}\\] \\[${child.pid}\\] ${id.replace(/[.]/g, '\\.')} \\[up\\] \\S`,
    );
    const down = new RegExp(
      `^\\[\\w{3} \\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\d{4}\\] \\[${child.pid}\\] ${id.replace(/[.]/g, '\\.')} \\[down\\] \\S`,
    );
    assert.ok(
      lines.some((l) => up.test(l)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => down.test(l)),
      lines.join('\n'),
    );

    for (const text of [...sink.mails.map((m) => m.raw), readFileSync(monitor, 'utf8'), stderr]) {
      assert.ok(!text.includes('Sekr3tPw') && !text.includes('monuser'), text);
    }
  });
});
