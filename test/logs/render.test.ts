/** How `logs` prints a line: colours by meaning, when to colour at all, --json objects. */
import assert from 'node:assert/strict';
import { parseLine } from '../../src/logs/line';
import { isoLocal, renderJson, renderText, toneOf, useColour } from '../../src/logs/render';

const at = (message: string) => parseLine(`[Sat Nov 21 10:50:06 2026|ldirectord.cf|4893] ${message}`);

describe('logs: colours', () => {
  const cases: Array<[string, 'down' | 'warn' | 'up' | null]> = [
    ['Real server down: 127.0.0.2:8080 (tcp:10.0.0.1:80): connect: ECONNREFUSED', 'down'],
    ['Deleted real server: 127.0.0.2:8080 (10.0.0.1:80)', 'down'],
    ['Added fallback server: 127.0.0.1:80 (10.0.0.1:80) (Weight set to 1)', 'down'],
    ['Quiescent real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 0)', 'warn'],
    ['Readd Quiescent real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 0)', 'warn'],
    ['Soft failure real server: 127.0.0.3:8080 (tcp:10.0.0.1:80) failure 1/2', 'warn'],
    ['Real server up: 127.0.0.2:8080 (tcp:10.0.0.1:80): HTTP 200', 'up'],
    ['Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)', 'up'],
    ['Restored real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)', 'up'],
    ['Deleted fallback server: 127.0.0.1:80 (10.0.0.1:80)', 'up'],
    ['Resetting soft failure count: 127.0.0.3:8080 (tcp:10.0.0.1:80)', null],
    ['Purged real server (stop): 127.0.0.2:8080 (10.0.0.1:80)', null],
    ['Added virtual server: 10.0.0.1:80', null],
    ['Starting Linux Director v1.186-ha as daemon', null],
  ];
  for (const [message, tone] of cases) {
    it(`${tone ?? 'plain'}: ${message}`, () => assert.equal(toneOf(at(message)), tone));
  }

  it('wraps the whole line in red, yellow or green, and only when asked to', () => {
    const down = at('Real server down: 127.0.0.2:8080 (tcp:10.0.0.1:80): x');
    assert.equal(renderText(down, true), `\x1b[31m${down.raw}\x1b[0m`);
    assert.equal(renderText(down, false), down.raw);
    assert.equal(
      renderText(at('Quiescent real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 0)'), true).slice(0, 5),
      '\x1b[33m',
    );
    assert.equal(renderText(at('Real server up: 127.0.0.2:8080 (tcp:10.0.0.1:80): ok'), true).slice(0, 5), '\x1b[32m');
    const plain = at('Added virtual server: 10.0.0.1:80');
    assert.equal(renderText(plain, true), plain.raw);
  });

  const env = (e: Record<string, string>) => e as NodeJS.ProcessEnv;
  const decisions: Array<[boolean | undefined, Record<string, string>, boolean]> = [
    [true, {}, true],
    [true, { TERM: 'xterm-256color' }, true],
    [true, { NO_COLOR: '1' }, false],
    [true, { NO_COLOR: '' }, false],
    [true, { TERM: 'dumb' }, false],
    [false, {}, false],
    [undefined, {}, false],
  ];
  for (const [tty, e, want] of decisions) {
    it(`tty=${tty} env=${JSON.stringify(e)} → ${want ? 'colour' : 'none'}`, () =>
      assert.equal(useColour(tty, env(e)), want));
  }
});

describe('logs: --json', () => {
  it('one object per line with the parsed event', () => {
    const l = at('Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)');
    assert.deepEqual(JSON.parse(renderJson(l)), {
      time: isoLocal(new Date(2026, 10, 21, 10, 50, 6).getTime()),
      cfgname: 'ldirectord.cf',
      pid: 4893,
      message: 'Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)',
      event: 'real-added',
      virtual: '10.0.0.1:80',
      real: '127.0.0.2:8080',
      weight: 1,
    });
  });

  it('mapped reals and reasons', () => {
    const q = JSON.parse(
      renderJson(at('Quiescent real server: 10.0.1.1:80 mapped from 10.0.1.1:8080 (10.0.0.1:80) (Weight set to 0)')),
    );
    assert.equal(q.real, '10.0.1.1:80');
    assert.equal(q.mappedFrom, '10.0.1.1:8080');
    assert.equal(q.weight, 0);
    const d = JSON.parse(renderJson(at('Real server down: 127.0.0.2:8080 (tcp:10.0.0.1:80): HTTP 503')));
    assert.equal(d.event, 'real-down');
    assert.equal(d.reason, 'HTTP 503');
    assert.equal('weight' in d, false);
  });

  it('a line that is no event has no event fields; an unstamped one has nulls', () => {
    assert.deepEqual(Object.keys(JSON.parse(renderJson(at('Starting Linux Director v1.186-ha as daemon')))), [
      'time',
      'cfgname',
      'pid',
      'message',
    ]);
    assert.deepEqual(JSON.parse(renderJson(parseLine('garbage'))), {
      time: null,
      cfgname: null,
      pid: null,
      message: 'garbage',
    });
  });

  it('the time is the stamp as local time with its offset', () => {
    const ms = new Date(2026, 10, 21, 10, 50, 6).getTime();
    assert.match(isoLocal(ms), /^2026-11-21T10:50:06(Z|[+-]\d\d:\d\d)$/);
    assert.equal(Date.parse(isoLocal(ms)), ms);
  });
});
