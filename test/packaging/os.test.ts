/**
 * Operating-system integration from conf/: the systemd unit passes `systemd-analyze verify`
 * with this package's binary and keeps Debian's forms; the logrotate snippet rotates the log
 * of a running daemon with `logrotate -f` and no line is lost or cut.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Director } from '../helpers/director';
import { CLI, ROOT, requirePart, which } from '../helpers/env';

const UNIT = join(ROOT, 'conf', 'ldirectord.service');

describe('packaging: systemd unit and logrotate', function () {
  this.timeout(120000);

  it("the unit has Debian's forms and passes systemd-analyze verify", function () {
    requirePart(this, which('systemd-analyze') ? null : 'systemd-analyze is not installed (apt-get install systemd)');
    const unit = readFileSync(UNIT, 'utf8');
    for (const line of [
      'ExecStart=/usr/sbin/ldirectord start',
      'ExecStop=/usr/sbin/ldirectord stop',
      'ExecReload=/usr/sbin/ldirectord reload',
      'PIDFile=/run/ldirectord.ldirectord.pid',
      'Type=forking',
    ])
      assert.ok(unit.split('\n').includes(line), line);
    // Verified as installed: /usr/sbin/ldirectord being this package's cli.js.
    const d = new Director();
    try {
      const copy = join(d.dir, 'ldirectord.service');
      writeFileSync(copy, unit.replaceAll('/usr/sbin/ldirectord', CLI));
      const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
      const ours = r.stderr.split('\n').filter((l) => l.includes('ldirectord.service'));
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(ours, [], 'no warning about the unit');
    } finally {
      void d.cleanup();
    }
  });

  it('logrotate -f rotates a running daemon’s log and no line is lost', async function () {
    requirePart(this, which('logrotate') ? null : 'logrotate is not installed (apt-get install logrotate)');
    const d = new Director();
    try {
      await d.listen('127.50.25.2', 8080);
      d.config(`
checkinterval=1
checktimeout=1
virtual=10.0.0.1:80
	real=127.50.25.2:8080 masq 2
	checktype=connect
	quiescent=no
`);
      assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
      const rotated = `${d.log}.1`;
      const both = () => (existsSync(rotated) ? readFileSync(rotated, 'utf8') : '') + d.logText();
      const conf = join(d.dir, 'logrotate.conf');
      writeFileSync(
        conf,
        readFileSync(join(ROOT, 'conf', 'ldirectord.logrotate'), 'utf8').replace('/var/log/ldirectord.log', d.log),
      );
      // The real goes down and comes back ten times; the log is rotated after the fifth.
      for (let i = 1; i <= 10; i++) {
        await d.close('127.50.25.2', 8080);
        await d.waitFor(`down ${i}`, () => (both().match(/Real server down/g) ?? []).length === i);
        await d.listen('127.50.25.2', 8080);
        await d.waitFor(`up ${i}`, () => (both().match(/Real server up/g) ?? []).length === i + 1);
        if (i === 5) {
          const r = spawnSync('logrotate', ['-f', '-s', join(d.dir, 'logrotate.state'), conf], { encoding: 'utf8' });
          assert.equal(r.status, 0, r.stderr);
          assert.ok(existsSync(rotated), 'rotated (delaycompress keeps .1 plain)');
        }
      }
      const lines = both().split('\n').filter(Boolean);
      assert.ok(
        lines.every((l) => /^\[[^\]]+\|test\.cf\|\d+\] /.test(l)),
        'every line whole',
      );
      const events = lines
        .filter((l) => /Real server (up|down)/.test(l))
        .map((l) => /Real server (up|down)/.exec(l)![1]);
      assert.deepEqual(events, ['up', ...Array.from({ length: 10 }, () => ['down', 'up']).flat()]);
      assert.ok(readFileSync(rotated, 'utf8').length > 0 && d.logText().length > 0, 'lines on both sides');
      assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
    } finally {
      await d.cleanup();
    }
  });
});
