/**
 * Log lines as the daemon writes them (src/daemon/logging.ts, src/reconcile/ops.ts,
 * src/engine/engine.ts) and as Perl ldirectord wrote them (spec §8.2): prefix, stamp and
 * the event each catalogue message reports.
 */
import assert from 'node:assert/strict';
import { parseLine, parseMessage, type MessageEvent } from '../../src/logs/line';
import { parsePerlLocaltime, perlLocaltime } from '../../src/perl/localtime';

describe('logs: Perl localtime stamps', () => {
  const cases: Array<[string, number | null]> = [
    ['Sat Nov 21 10:50:06 2026', new Date(2026, 10, 21, 10, 50, 6).getTime()],
    ['Sun Nov  1 09:05:03 2026', new Date(2026, 10, 1, 9, 5, 3).getTime()],
    ['Thu Jan  1 00:00:00 2026', new Date(2026, 0, 1, 0, 0, 0).getTime()],
    ['Wed Dec 31 23:59:59 2025', new Date(2025, 11, 31, 23, 59, 59).getTime()],
    ['Sat Nov 1 09:05:03 2026', new Date(2026, 10, 1, 9, 5, 3).getTime()], // unpadded, tolerated
    ['Sat Foo 21 10:50:06 2026', null],
    ['Xyz Nov 21 10:50:06 2026', null],
    ['Sat Nov 21 25:50:06 2026', null],
    ['2026-11-21 10:50:06', null],
  ];
  for (const [text, want] of cases) {
    it(`${JSON.stringify(text)} → ${want === null ? 'not a stamp' : new Date(want).toString()}`, () => {
      assert.equal(parsePerlLocaltime(text), want);
    });
  }

  it('reads back what the daemon writes, on every day of a month (space-padded days)', () => {
    for (let day = 1; day <= 30; day++) {
      const d = new Date(2026, 10, day, 7, 8, 9);
      assert.equal(parsePerlLocaltime(perlLocaltime(d)), d.getTime(), perlLocaltime(d));
    }
  });
});

describe('logs: line prefixes', () => {
  it('log file line: stamp, cfgname, pid, message', () => {
    const l = parseLine('[Sat Nov 21 10:50:06 2026|ldirectord.cf|4893] Added virtual server: 10.0.0.1:80');
    assert.equal(l.stamp, 'Sat Nov 21 10:50:06 2026');
    assert.equal(l.time, new Date(2026, 10, 21, 10, 50, 6).getTime());
    assert.equal(l.cfgname, 'ldirectord.cf');
    assert.equal(l.pid, 4893);
    assert.equal(l.message, 'Added virtual server: 10.0.0.1:80');
    assert.equal(l.event?.event, 'virtual-added');
  });

  it('a message that itself looks like a prefix does not move the cfgname', () => {
    const l = parseLine('[Sat Nov 21 10:50:06 2026|web.cf|4893] system(/bin/x |5] y) failed');
    assert.equal(l.cfgname, 'web.cf');
    assert.equal(l.pid, 4893);
    assert.equal(l.message, 'system(/bin/x |5] y) failed');
  });

  it('a day padded with a space (Nov  1)', () => {
    const l = parseLine(
      '[Sun Nov  1 09:05:03 2026|t2.cf|17] Invoking ldirectord invoked as: /usr/sbin/ldirectord t2.cf start ',
    );
    assert.equal(l.time, new Date(2026, 10, 1, 9, 5, 3).getTime());
    assert.equal(l.cfgname, 't2.cf');
    assert.equal(l.pid, 17);
    assert.equal(l.event, null);
  });

  it('supervised=yes stdout line: stamp and message, no cfgname or pid', () => {
    const l = parseLine('[Sat Nov 21 10:50:06 2026] Deleted real server: 127.0.0.3:8080 (10.0.0.1:80)');
    assert.equal(l.time, new Date(2026, 10, 21, 10, 50, 6).getTime());
    assert.equal(l.cfgname, null);
    assert.equal(l.pid, null);
    assert.equal(l.event?.event, 'real-deleted');
  });

  it('anything else is kept whole as the message', () => {
    for (const raw of [
      '',
      'garbage',
      '[not a stamp|x|1] Added virtual server: 10.0.0.1:80',
      'Deleted real server: 127.0.0.3:8080 (10.0.0.1:80)',
    ]) {
      const l = parseLine(raw);
      assert.equal(l.stamp, null, raw);
      assert.equal(l.time, null);
      assert.equal(l.message, raw);
    }
  });
});

describe('logs: message catalogue → event', () => {
  type Want = Partial<Omit<MessageEvent, 'virtualRef' | 'realRef' | 'mappedFromRef'>> | null;
  const cases: Array<[string, Want]> = [
    [
      'Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)',
      { event: 'real-added', real: '127.0.0.2:8080', virtual: '10.0.0.1:80', weight: 1 },
    ],
    [
      'Added real server: 127.0.0.2:0 (5) (Weight set to 3)',
      { event: 'real-added', real: '127.0.0.2:0', virtual: '5', weight: 3 },
    ],
    [
      'Added real server: [2001:db8::2]:80 ([2001:db8::1]:80) (Weight set to 2)',
      { event: 'real-added', real: '[2001:db8::2]:80', virtual: '[2001:db8::1]:80', weight: 2 },
    ],
    [
      'Restored real server: 127.0.0.3:8080 (10.0.0.1:80) (Weight set to 5)',
      { event: 'real-restored', real: '127.0.0.3:8080', virtual: '10.0.0.1:80', weight: 5 },
    ],
    [
      'Deleted real server: 127.0.0.3:8080 (10.0.0.1:80)',
      { event: 'real-deleted', real: '127.0.0.3:8080', virtual: '10.0.0.1:80' },
    ],
    [
      'Deleted real server: 10.0.1.1:80 mapped from 10.0.1.1:8080 (10.0.0.1:80)',
      { event: 'real-deleted', real: '10.0.1.1:80', mappedFrom: '10.0.1.1:8080', virtual: '10.0.0.1:80' },
    ],
    [
      'Quiescent real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 0)',
      { event: 'real-quiescent', real: '127.0.0.2:8080', virtual: '10.0.0.1:80', weight: 0 },
    ],
    [
      'Quiescent real server: 10.0.1.1:80 mapped from 10.0.1.1:8080 (10.0.0.1:80) (Weight set to 0)',
      { event: 'real-quiescent', real: '10.0.1.1:80', mappedFrom: '10.0.1.1:8080', virtual: '10.0.0.1:80', weight: 0 },
    ],
    [
      'Readd Quiescent real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 0)',
      { event: 'real-readd-quiescent', real: '127.0.0.2:8080', virtual: '10.0.0.1:80', weight: 0 },
    ],
    [
      'Added fallback server: 127.0.0.1:80 (10.0.0.1:80) (Weight set to 1)',
      { event: 'fallback-added', real: '127.0.0.1:80', virtual: '10.0.0.1:80', weight: 1 },
    ],
    [
      'Deleted fallback server: 127.0.0.1:80 (10.0.0.1:80)',
      { event: 'fallback-deleted', real: '127.0.0.1:80', virtual: '10.0.0.1:80' },
    ],
    [
      'Restored fallback server: 127.0.0.1:80 (10.0.0.1:80) (Weight set to 1)',
      { event: 'fallback-restored', real: '127.0.0.1:80', virtual: '10.0.0.1:80', weight: 1 },
    ],
    [
      'Soft failure real server: 127.0.0.3:8080 (tcp:10.0.0.1:80) failure 1/2',
      { event: 'real-soft-failure', real: '127.0.0.3:8080', virtual: 'tcp:10.0.0.1:80' },
    ],
    [
      'Soft failure real server: 127.0.0.3:8080 (tcp:10.0.0.1:80) failure 1/2: connect: ECONNREFUSED',
      {
        event: 'real-soft-failure',
        real: '127.0.0.3:8080',
        virtual: 'tcp:10.0.0.1:80',
        reason: 'connect: ECONNREFUSED',
      },
    ],
    [
      'Check failed: 127.0.0.3:8080 (tcp:10.0.0.1:80): connect ECONNREFUSED',
      {
        event: 'real-check-failed',
        real: '127.0.0.3:8080',
        virtual: 'tcp:10.0.0.1:80',
        reason: 'connect ECONNREFUSED',
      },
    ],
    [
      'Resetting soft failure count: 127.0.0.3:8080 (tcp:10.0.0.1:80)',
      { event: 'real-soft-reset', real: '127.0.0.3:8080', virtual: 'tcp:10.0.0.1:80' },
    ],
    [
      'Real server up: 127.0.0.2:8080 (tcp:10.0.0.1:80): HTTP 200',
      { event: 'real-up', real: '127.0.0.2:8080', virtual: 'tcp:10.0.0.1:80', reason: 'HTTP 200' },
    ],
    [
      'Real server down: 127.0.0.2:8080 (tcp:10.0.0.1:80): connect: ETIMEDOUT (5000 ms)',
      {
        event: 'real-down',
        real: '127.0.0.2:8080',
        virtual: 'tcp:10.0.0.1:80',
        reason: 'connect: ETIMEDOUT (5000 ms)',
      },
    ],
    [
      'Real server down: 127.0.0.2:0 (fwm:5): no answer',
      { event: 'real-down', real: '127.0.0.2:0', virtual: 'fwm:5', reason: 'no answer' },
    ],
    [
      'Real server up: [2001:db8::2]:80 (udp:[2001:db8::1]:53): DNS answer',
      { event: 'real-up', real: '[2001:db8::2]:80', virtual: 'udp:[2001:db8::1]:53', reason: 'DNS answer' },
    ],
    [
      'Purged real server (start): 10.9.9.9:80 (10.0.0.1:80)',
      { event: 'real-purged', real: '10.9.9.9:80', virtual: '10.0.0.1:80' },
    ],
    [
      'Purged real server (stop): 127.0.0.2:8080 (10.0.0.1:80)',
      { event: 'real-purged', real: '127.0.0.2:8080', virtual: '10.0.0.1:80' },
    ],
    ['Purged virtual server (stop): 10.0.0.1:80', { event: 'virtual-purged', virtual: '10.0.0.1:80' }],
    ['Added virtual server: 5', { event: 'virtual-added', virtual: '5' }],
    ['Changed virtual server: 10.0.0.1:80', { event: 'virtual-changed', virtual: '10.0.0.1:80' }],
    ['Killing child tcp:10.0.0.1:80 (PID=812)', { event: 'child-killed', virtual: 'tcp:10.0.0.1:80' }],
    ['Killing child tcp:10.0.0.1:80 PID=812', { event: 'child-killed', virtual: 'tcp:10.0.0.1:80' }],
    ['Child not running for fwm:5, spawning', { event: 'child-missing', virtual: 'fwm:5' }],
    ['Spawned child udp:10.0.0.1:53 PID=900', { event: 'child-spawned', virtual: 'udp:10.0.0.1:53' }],
    ['Starting Linux Director v1.186-ha as daemon', null],
    ['Reloading Linux Director Daemon config on signal', null],
    ['Linux Director Daemon terminated on signal: TERM', null],
    ['system(/sbin/ipvsadm -a -t 10.0.0.1:80 -r 127.0.0.2:8080) failed: No such file or directory', null],
  ];
  for (const [message, want] of cases) {
    it(message, () => {
      const ev = parseMessage(message);
      if (want === null) return assert.equal(ev, null);
      assert.ok(ev, 'an event');
      const got: Record<string, unknown> = { event: ev.event, virtual: ev.virtual };
      for (const k of ['real', 'mappedFrom', 'weight', 'reason'] as const) if (ev[k] !== undefined) got[k] = ev[k];
      assert.deepEqual(got, want);
      assert.ok(ev.virtualRef, 'the virtual is understood');
      if (ev.real !== undefined) assert.ok(ev.realRef, 'the real is understood');
    });
  }
});
