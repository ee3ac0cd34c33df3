/**
 * monitorfile: the line format the original actually writes (spec §8.4), fed with the
 * engine's own check events (fake time, fake kernel), appended to real files.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineEvent } from '../../src/engine/engine';
import { MonitorFile, encodeMonitorMessage, monitorLine, realIdForLog } from '../../src/daemon/monitorfile';
import { config } from '../helpers/config';
import { harness } from '../engine/harness';
import { testHost } from './helpers';

const WHEN = new Date(2026, 10, 21, 10, 54, 55); // local time, as Perl's localtime()
const checks = (events: EngineEvent[]) =>
  events.filter((e): e is Extract<EngineEvent, { type: 'check' }> => e.type === 'check');

describe('monitorfile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ld-monitor-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the spec's verified example byte for byte", async () => {
    const cfg = await config(`
virtual=10.0.0.1:80
	real=127.0.0.3:8080 masq
	service=http
	checktype=negotiate
	monitorfile=/var/log/ld-monitor.log
`);
    const v = cfg.virtuals[0]!;
    assert.equal(
      monitorLine(WHEN, 28852, v, v.reals[0]!, false, "500 Can't connect to 127.0.0.3:8080 (Connection refused)"),
      "[Sat Nov 21 10:54:55 2026] [28852] negotiate http tcp 127.0.0.3 8080 1 masq /  [down] 500 Can't connect to 127.0.0.3:8080 (Connection refused)\n",
    );
  });

  it('builds the real id as Perl get_real_id_str, squeezed and unescaped (expected values printed by perl)', async () => {
    const cfg = await config(`
virtual=10.0.0.5:80
	real=10.0.0.5:80 masq
	checktype=external
	checkcommand=/usr/lib/chk.sh
	virtualhost=www.example.com
	checkport=8080
	request="/x:y\\z"
	receive="ok|fine"
virtual6=[2001:db8::1]:80
	real6=[2001:db8::2]:80 gate 2
	checktype=connect
`);
    // perl -e: join(':', …, quotemeta(request), quotemeta(receive)) =~ tr/:/ /s, s/\\//g
    assert.equal(
      realIdForLog(cfg.virtuals[0]!, cfg.virtuals[0]!.reals[0]!),
      'external /usr/lib/chk.sh tcp 10.0.0.5 80 www.example.com 8080 1 masq /x yz ok|fine',
    );
    assert.equal(realIdForLog(cfg.virtuals[1]!, cfg.virtuals[1]!.reals[0]!), 'connect tcp [2001 db8 2] 80 2 gate / ');
  });

  it('encodes %, |, CR and LF of the message as %xx in lowercase hex; no message is -', () => {
    assert.equal(encodeMonitorMessage('a|b%c\r\nd'), 'a%7cb%25c%0d%0ad');
    assert.equal(encodeMonitorMessage('HTTP/1.1 200 OK'), 'HTTP/1.1 200 OK');
    assert.equal(encodeMonitorMessage(''), '-');
  });

  it('appends one line per check result for each virtual with a monitorfile the probe fans out to', async () => {
    const file = join(dir, 'monitor.log');
    writeFileSync(file, 'kept\n');
    const h = await harness(
      `
checkinterval=2
quiescent=no
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq
	service=http
	monitorfile=${file}
virtual=10.0.0.2:80
	real=127.0.0.2:8080 masq 3
	service=http
	monitorfile=${file}
virtual=10.0.0.3:80
	real=127.0.0.2:8080 masq
	service=http
`,
      { servers: { '127.0.0.2': 'up' } },
    );
    const mf = new MonitorFile({ now: () => WHEN, pid: 4242 });
    mf.start(testHost(h.cfg));
    await h.engine.start(h.cfg);
    await h.tick(0);
    assert.equal(checks(h.events).length, 1, 'one probe, shared by the three virtuals');
    for (const e of h.events.splice(0)) mf.event(e);
    h.servers.set('127.0.0.2', 'down');
    await h.tick(2100);
    for (const e of h.events.splice(0)) mf.event(e);
    await mf.idle();
    assert.equal(
      readFileSync(file, 'utf8'),
      [
        'kept',
        '[Sat Nov 21 10:54:55 2026] [4242] negotiate http tcp 127.0.0.2 8080 1 masq /  [up] HTTP 200 OK',
        '[Sat Nov 21 10:54:55 2026] [4242] negotiate http tcp 127.0.0.2 8080 3 masq /  [up] HTTP 200 OK',
        '[Sat Nov 21 10:54:55 2026] [4242] negotiate http tcp 127.0.0.2 8080 1 masq /  [down] connect ECONNREFUSED',
        '[Sat Nov 21 10:54:55 2026] [4242] negotiate http tcp 127.0.0.2 8080 3 masq /  [down] connect ECONNREFUSED',
        '',
      ].join('\n'),
    );
  });

  it('encodes the message in the file, never writes passwd or login, and takes lines from before start()', async () => {
    const file = join(dir, 'monitor.log');
    const h = await harness(
      `
checkinterval=2
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq
	service=http
	login="monuser"
	passwd="Sekr3tPw"
	request="/health?user=monuser&pw=Sekr3tPw"
	monitorfile=${file}
`,
      { servers: { '127.0.0.2': 'up' } },
    );
    await h.engine.start(h.cfg);
    await h.tick(0);
    const probeEvent = checks(h.events)[0]!;
    const mf = new MonitorFile({ now: () => WHEN, pid: 1 });
    // The engine starts before the plugins: this result arrives before start().
    mf.event({
      ...probeEvent,
      result: { up: false, cause: 'error', reason: 'got "a|b 100%"\r\nsecond line; auth Sekr3tPw refused', ms: 1 },
    });
    mf.start(testHost(h.cfg));
    mf.event({ ...probeEvent, result: { up: true, cause: 'ok', reason: 'HTTP 200 OK', ms: 1 } });
    await mf.idle();
    const text = readFileSync(file, 'utf8');
    assert.equal(
      text,
      '[Sat Nov 21 10:54:55 2026] [1] negotiate http tcp 127.0.0.2 8080 1 masq /health?user=***&pw=***  [down] got "a%7cb 100%25"%0d%0asecond line; auth *** refused\n' +
        '[Sat Nov 21 10:54:55 2026] [1] negotiate http tcp 127.0.0.2 8080 1 masq /health?user=***&pw=***  [up] HTTP 200 OK\n',
    );
    assert.ok(!text.includes('Sekr3tPw') && !text.includes('monuser'));
  });

  it('reopens the file for every batch, so a rotated file is created again', async () => {
    const file = join(dir, 'monitor.log');
    const h = await harness(
      `
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq
	service=http
	monitorfile=${file}
`,
      { servers: { '127.0.0.2': 'up' } },
    );
    await h.engine.start(h.cfg);
    await h.tick(0);
    const e = checks(h.events)[0]!;
    const mf = new MonitorFile({ now: () => WHEN, pid: 1 });
    mf.start(testHost(h.cfg));
    mf.event(e);
    await mf.idle();
    renameSync(file, file + '.1');
    mf.event({ ...e, result: { up: false, cause: 'error', reason: 'second', ms: 1 } });
    await mf.idle();
    assert.match(readFileSync(file + '.1', 'utf8'), /\[up\] HTTP 200 OK\n$/);
    assert.equal(
      readFileSync(file, 'utf8'),
      '[Sat Nov 21 10:54:55 2026] [1] negotiate http tcp 127.0.0.2 8080 1 masq /  [down] second\n',
    );
  });

  it('logs a write failure once, keeps going, and says when the file is writable again', async () => {
    const sub = join(dir, 'missing');
    const file = join(sub, 'monitor.log');
    const h = await harness(
      `
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq
	service=http
	monitorfile=${file}
`,
      { servers: { '127.0.0.2': 'up' } },
    );
    await h.engine.start(h.cfg);
    await h.tick(0);
    const e = checks(h.events)[0]!;
    const host = testHost(h.cfg);
    const mf = new MonitorFile({ now: () => WHEN, pid: 1 });
    mf.start(host);
    for (let i = 0; i < 3; i++) {
      mf.event(e);
      await mf.idle();
    }
    const errors = host.logs.filter((l) => l.startsWith('ERROR '));
    assert.equal(errors.length, 1, host.logs.join('\n'));
    assert.match(errors[0]!, /^ERROR Error writing to monitorfile '.*missing\/monitor\.log': ENOENT/);
    mkdirSync(sub);
    mf.event(e);
    await mf.idle();
    assert.ok(host.logs.includes(`monitorfile '${file}' is writable again`));
    assert.match(readFileSync(file, 'utf8'), /\[up\] HTTP 200 OK\n$/);
  });
});
