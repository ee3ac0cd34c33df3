/**
 * `logs --virtual`, `--real` and `--since` over real message texts: every form an operator
 * may type against every form the daemon writes.
 */
import assert from 'node:assert/strict';
import { canonicalHost, parseReal, parseVirtual } from '../../src/logs/address';
import { buildFilter, lineMatches, type LineFilter } from '../../src/logs/filter';
import { parseLine } from '../../src/logs/line';
import { parseSince } from '../../src/logs/since';

const at = (message: string, stamp = 'Sat Nov 21 10:50:06 2026') =>
  parseLine(`[${stamp}|ldirectord.cf|4893] ${message}`);
const NOW = new Date(2026, 10, 21, 12, 0, 0);

function filter(opts: { virtual?: string; real?: string; since?: string }): LineFilter {
  const f = buildFilter({ virtual: opts.virtual ?? null, real: opts.real ?? null, since: opts.since ?? null }, NOW);
  if ('error' in f) throw new Error(f.error);
  return f;
}

const LINES = {
  added: 'Added real server: 10.0.1.1:8080 (10.0.0.1:80) (Weight set to 1)',
  down: 'Real server down: 10.0.1.1:8080 (tcp:10.0.0.1:80): connect: ECONNREFUSED',
  downUdp: 'Real server down: 10.0.1.1:8080 (udp:10.0.0.1:80): no answer',
  otherPort: 'Deleted real server: 10.0.1.1:8080 (10.0.0.1:443)',
  otherReal: 'Deleted real server: 10.0.1.2:8080 (10.0.0.1:80)',
  otherRealPort: 'Quiescent real server: 10.0.1.1:9090 (10.0.0.1:80) (Weight set to 0)',
  mapped: 'Quiescent real server: 10.0.1.1:80 mapped from 10.0.1.1:8080 (10.0.0.1:80) (Weight set to 0)',
  fwm: 'Added real server: 10.0.1.1:0 (5) (Weight set to 1)',
  fwmId: 'Soft failure real server: 10.0.1.1:0 (fwm:5) failure 1/3: connect: ECONNREFUSED',
  fwm6Id: 'Real server down: [2001:db8::2]:0 (fwm6:5): no answer',
  fwmOther: 'Added real server: 10.0.1.1:0 (6) (Weight set to 1)',
  v6: 'Added real server: [2001:db8::2]:80 ([2001:db8::1]:80) (Weight set to 1)',
  v6Id: 'Real server up: [2001:db8::2]:80 (tcp:[2001:db8::1]:80): HTTP 200',
  fallback: 'Added fallback server: 127.0.0.1:80 (10.0.0.1:80) (Weight set to 1)',
  virtualOnly: 'Added virtual server: 10.0.0.1:80',
  child: 'Killing child tcp:10.0.0.1:80 (PID=812)',
  plain: 'Reloading Linux Director Daemon config on signal',
} as const;
type Key = keyof typeof LINES;

describe('logs: --virtual', () => {
  const cases: Array<[string, Key[]]> = [
    [
      '10.0.0.1:80',
      ['added', 'down', 'downUdp', 'otherReal', 'otherRealPort', 'mapped', 'fallback', 'virtualOnly', 'child'],
    ],
    ['tcp:10.0.0.1:80', ['added', 'down', 'otherReal', 'otherRealPort', 'mapped', 'fallback', 'virtualOnly', 'child']],
    ['udp:10.0.0.1:80', ['added', 'downUdp', 'otherReal', 'otherRealPort', 'mapped', 'fallback', 'virtualOnly']],
    [
      '10.0.0.1',
      [
        'added',
        'down',
        'downUdp',
        'otherPort',
        'otherReal',
        'otherRealPort',
        'mapped',
        'fallback',
        'virtualOnly',
        'child',
      ],
    ],
    ['10.0.0.1:443', ['otherPort']],
    ['5', ['fwm', 'fwmId', 'fwm6Id']],
    ['fwm:5', ['fwm', 'fwmId']],
    ['fwm6:5', ['fwm', 'fwm6Id']],
    ['6', ['fwmOther']],
    ['[2001:db8::1]:80', ['v6', 'v6Id']],
    ['tcp:[2001:db8::1]:80', ['v6', 'v6Id']],
    ['2001:db8::1', ['v6', 'v6Id']],
    ['[2001:0db8:0:0::1]:80', ['v6', 'v6Id']],
    ['[2001:db8::1]:443', []],
    ['10.0.0.2:80', []],
  ];
  for (const [want, keys] of cases) {
    it(`--virtual ${want}`, () => {
      const f = filter({ virtual: want });
      const got = (Object.keys(LINES) as Key[]).filter((k) => lineMatches(f, at(LINES[k])));
      assert.deepEqual(got, keys);
    });
  }
});

describe('logs: --real', () => {
  const cases: Array<[string, Key[]]> = [
    ['10.0.1.1', ['added', 'down', 'downUdp', 'otherPort', 'otherRealPort', 'mapped', 'fwm', 'fwmId', 'fwmOther']],
    ['10.0.1.1:8080', ['added', 'down', 'downUdp', 'otherPort', 'mapped']],
    ['10.0.1.1:80', ['mapped']],
    ['10.0.1.1:0', ['fwm', 'fwmId', 'fwmOther']],
    ['10.0.1.2', ['otherReal']],
    ['127.0.0.1:80', ['fallback']],
    ['[2001:db8::2]:80', ['v6', 'v6Id']],
    ['2001:db8::2', ['fwm6Id', 'v6', 'v6Id']],
    ['10.0.1.9', []],
  ];
  for (const [want, keys] of cases) {
    it(`--real ${want}`, () => {
      const f = filter({ real: want });
      const got = (Object.keys(LINES) as Key[]).filter((k) => lineMatches(f, at(LINES[k])));
      assert.deepEqual(got, keys);
    });
  }

  it('--virtual and --real together must both hold', () => {
    const f = filter({ virtual: 'tcp:10.0.0.1:80', real: '10.0.1.1:8080' });
    const got = (Object.keys(LINES) as Key[]).filter((k) => lineMatches(f, at(LINES[k])));
    assert.deepEqual(got, ['added', 'down', 'mapped']);
  });

  it('a line that is not an event, or has no prefix, passes only when nothing filters by server', () => {
    assert.equal(lineMatches(filter({}), at(LINES.plain)), true);
    assert.equal(lineMatches(filter({}), parseLine('garbage')), true);
    assert.equal(lineMatches(filter({ virtual: '10.0.0.1:80' }), at(LINES.plain)), false);
    assert.equal(lineMatches(filter({ real: '10.0.1.1' }), parseLine('garbage')), false);
  });
});

describe('logs: filter values that cannot be read', () => {
  for (const [opt, value] of [
    ['virtual', 'www.example.com:80'],
    ['virtual', 'tcp:'],
    ['virtual', '10.0.0.1:99999'],
    ['real', 'host'],
    ['real', '10.0.1.1:x'],
    ['since', 'last tuesday'],
    ['since', '25:00'],
    ['since', '10x'],
  ] as const) {
    it(`--${opt} ${value}`, () => {
      const f = buildFilter({ virtual: null, real: null, since: null, [opt]: value }, NOW);
      assert.ok('error' in f, 'an error');
      assert.match(f.error, new RegExp(`^--${opt} `));
    });
  }
});

describe('logs: --since', () => {
  const H = 3600_000;
  const cases: Array<[string, number]> = [
    ['10m', NOW.getTime() - 10 * 60_000],
    ['2h', NOW.getTime() - 2 * H],
    ['1d', NOW.getTime() - 24 * H],
    ['1w', NOW.getTime() - 7 * 24 * H],
    ['90s', NOW.getTime() - 90_000],
    ['1h30m', NOW.getTime() - 1.5 * H],
    ['10:50', new Date(2026, 10, 21, 10, 50).getTime()],
    ['10:50:06', new Date(2026, 10, 21, 10, 50, 6).getTime()],
    ['9:05', new Date(2026, 10, 21, 9, 5).getTime()],
    ['13:00', new Date(2026, 10, 20, 13, 0).getTime()], // not yet today: yesterday's
    ['today', new Date(2026, 10, 21).getTime()],
    ['yesterday', new Date(2026, 10, 20).getTime()],
    ['2026-11-21', new Date(2026, 10, 21).getTime()],
    ['2026-11-21T10:50', new Date(2026, 10, 21, 10, 50).getTime()],
    ['2026-11-21 10:50:06', new Date(2026, 10, 21, 10, 50, 6).getTime()],
    ['2026-11-21T10:50:06.500', new Date(2026, 10, 21, 10, 50, 6, 500).getTime()],
    ['2026-11-21T10:50:06Z', Date.UTC(2026, 10, 21, 10, 50, 6)],
    ['2026-11-21T10:50:06+01:00', Date.UTC(2026, 10, 21, 9, 50, 6)],
    ['2026-11-21T10:50:06-0530', Date.UTC(2026, 10, 21, 16, 20, 6)],
    ['Sat Nov 21 10:50:06 2026', new Date(2026, 10, 21, 10, 50, 6).getTime()],
  ];
  for (const [text, want] of cases) {
    it(`--since ${text}`, () => assert.equal(parseSince(text, NOW), want));
  }

  it('keeps the lines stamped at or after the time, drops unstamped ones', () => {
    const f = filter({ since: '10:50:06' });
    assert.equal(lineMatches(f, at(LINES.plain, 'Sat Nov 21 10:50:05 2026')), false);
    assert.equal(lineMatches(f, at(LINES.plain, 'Sat Nov 21 10:50:06 2026')), true);
    assert.equal(lineMatches(f, at(LINES.plain, 'Sat Nov 21 11:59:59 2026')), true);
    assert.equal(lineMatches(f, at(LINES.plain, 'Fri Nov 20 11:00:00 2026')), false);
    assert.equal(lineMatches(f, parseLine(LINES.plain)), false);
  });
});

describe('logs: addresses', () => {
  it('IPv6 addresses compare in canonical form', () => {
    assert.equal(canonicalHost('2001:db8::1'), canonicalHost('2001:0DB8:0000:0000:0000:0000:0000:0001'));
    assert.equal(canonicalHost('::'), '0000:0000:0000:0000:0000:0000:0000:0000');
    assert.equal(canonicalHost('::ffff:10.0.0.1'), canonicalHost('::ffff:a00:1'));
    assert.equal(canonicalHost('10.0.0.1'), '10.0.0.1');
    assert.equal(canonicalHost('example.com'), null);
  });

  it('a log line always names a port; the user may leave it out', () => {
    assert.equal(parseVirtual('10.0.0.1'), null);
    assert.deepEqual(parseVirtual('10.0.0.1', true), { kind: 'ip', proto: null, host: '10.0.0.1', port: null });
    assert.equal(parseReal('10.0.1.1'), null);
    assert.deepEqual(parseReal('10.0.1.1', true), { host: '10.0.1.1', port: null });
    // The original writes some IPv6 reals without brackets: the last group is the port.
    assert.deepEqual(parseReal('2001:db8::2:80'), { host: canonicalHost('2001:db8::2'), port: 80 });
  });
});
