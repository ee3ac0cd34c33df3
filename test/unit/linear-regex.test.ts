/**
 * The linear-time regex engine (src/perl/linear-regex.ts): the same answers as Perl itself
 * on random patterns and texts (a seeded generator; Perl decides), what it refuses, and
 * the cost on hostile texts (bounded per byte, whatever the pattern).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { MAX_WORK, LinearRegex } from '../../src/perl/linear-regex';
import { PerlRegexError } from '../../src/perl/regex';
import { requirePart, which } from '../helpers/env';

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ATOMS = ['a', 'b', 'A', '.', '\\n', ' ', '<', '[ab]', '[^a]', '[a-c]', '\\d', '\\w', '\\s', '\\W', '1', 'x'];
const ANCHORS = ['^', '$', '\\A', '\\z', '\\Z', '\\b', '\\B'];
const QUANTS = ['', '', '', '*', '+', '?', '{1,2}', '{2}', '*?', '+?', '{0,}'];
const FLAGS = ['', '', '', '(?i)', '(?m)', '(?s)', '(?im)'];

function pattern(r: () => number, depth = 0): string {
  const n = 1 + Math.floor(r() * 4);
  let out = '';
  for (let i = 0; i < n; i++) {
    const k = r();
    if (k < 0.12) out += ANCHORS[Math.floor(r() * ANCHORS.length)];
    else if (k < 0.22 && depth < 2) {
      const alts = [pattern(r, depth + 1)];
      if (r() < 0.5) alts.push(pattern(r, depth + 1));
      out += `(${r() < 0.5 ? '?:' : ''}${alts.join('|')})` + QUANTS[Math.floor(r() * QUANTS.length)];
    } else out += ATOMS[Math.floor(r() * ATOMS.length)] + QUANTS[Math.floor(r() * QUANTS.length)];
  }
  return out;
}

function text(r: () => number): string {
  const chars = ['a', 'b', 'A', '\n', ' ', '<', '1', 'x', 'ab', '\n\n'];
  let out = '';
  const n = Math.floor(r() * 8);
  for (let i = 0; i < n; i++) out += chars[Math.floor(r() * chars.length)];
  return out;
}

/** Perl's answers: one process, hex-encoded pattern and text per line. */
function perlAnswers(cases: Array<[string, string]>): string[] {
  const script =
    'while (<STDIN>) { chomp; my ($p, $t) = map { pack("H*", $_) } split / /, $_, -1; print((($t =~ /$p/) ? 1 : 0), "\\n"); }';
  const input = cases
    .map(([p, t]) => `${Buffer.from(p, 'latin1').toString('hex')} ${Buffer.from(t, 'latin1').toString('hex')}\n`)
    .join('');
  const r = spawnSync('perl', ['-e', script], { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`perl failed: ${r.stderr}`);
  return r.stdout.trim().split('\n');
}

describe('perl: linear-time regex', function () {
  this.timeout(60_000);

  it('answers as Perl does on 30,000 random patterns and texts', function () {
    requirePart(this, which('perl') ? null : 'perl is not installed');
    const r = rng(Number(process.env.LINEAR_REGEX_SEED ?? 20261207));
    const cases: Array<[string, string]> = [];
    let refused = 0;
    while (cases.length < 30000) {
      const p = FLAGS[Math.floor(r() * FLAGS.length)] + pattern(r);
      try {
        new LinearRegex(p);
      } catch (e) {
        if (!(e instanceof PerlRegexError)) throw e;
        refused++; // a `$` followed by more pattern: refused, by design
        continue;
      }
      for (let k = 0; k < 3; k++) cases.push([p, text(r)]);
    }
    const perl = perlAnswers(cases);
    const wrong = cases
      .map(([p, t], i) => ({ p, t, want: perl[i] === '1', got: new LinearRegex(p).test(t) }))
      .filter((c) => c.got !== c.want);
    assert.deepEqual(
      wrong.slice(0, 5).map((c) => `/${c.p}/ on ${JSON.stringify(c.t)}: Perl ${c.want}, here ${c.got}`),
      [],
    );
    assert.ok(refused < 15000, `most generated patterns are accepted (${refused} refused)`);
  });

  it('refuses what needs more than an automaton, with the reason', () => {
    const refusals: Array<[string, RegExp]> = [
      ['(a)\\1', /backreferences/],
      ['a(?=b)', /lookaround/],
      ['(?<!a)b', /lookaround/],
      ['(?>a+)b', /atomic/],
      ['a++', /possessive quantifiers are not supported/],
      ['OK((', /Unterminated group/],
      ['a$b', /\$ or \\Z followed by more pattern/],
      ['\\p{L}', /not supported/],
      ['\\Gx', /not supported/],
      ['[b-a]', /invalid range/],
    ];
    for (const [p, why] of refusals) assert.throws(() => new LinearRegex(p), why, p);
  });

  it('feeds a text in pieces with the same answer, and stops at the first match', () => {
    const re = new LinearRegex('OK web[0-9]+\\b');
    const m = re.matcher();
    assert.equal(m.feedString('xx O'), false);
    assert.equal(m.feedString('K we'), false);
    assert.equal(m.feedString('b12 '), true);
    assert.equal(m.end(), true);
    const n = new LinearRegex('done$').matcher();
    assert.equal(n.feedString('all done'), false);
    assert.equal(n.feedString('\n'), false);
    assert.equal(n.end(), true, '$ before a final newline');
  });

  it('does a bounded amount of work per pattern on hostile texts: each byte is a table lookup', () => {
    const mib = (s: string) => Buffer.from(s.repeat(Math.ceil((1 << 20) / s.length)).slice(0, 1 << 20), 'latin1');
    const cases: Array<[string, Buffer]> = [
      ['.*OK', mib('O')],
      ['[^<]*</html>', mib('a<')],
      ['(a+)+$', Buffer.concat([mib('a'), Buffer.from('b')])],
      ['(x+x+)+y', mib('x')],
      ['(?i)ok.*(web|app)[0-9]+ up', mib('OK web1 ')],
    ];
    for (const [p, body] of cases) {
      const re = new LinearRegex(p);
      const m = re.matcher();
      assert.equal(m.feed(body) || m.end(), false, p);
      // The work is counted, not timed: a megabyte needs a few dozen transitions worked out;
      // a backtracking engine would try each start position (or each way to split the a's).
      assert.ok(re.computed < 200, `${p}: ${re.computed} transitions worked out for 1 MiB`);
    }
  });

  it('stays right when a pattern needs more DFA states than the cache keeps', () => {
    // (a|b)*a(a|b){11}: the DFA remembers the last twelve bytes, 4,096 states; random a/b
    // text visits them, so the cache (1,024) is dropped again and again while two
    // matchers share it.
    const p = '(a|b)*a(a|b){11}c';
    const re = new LinearRegex(p);
    const v8 = new RegExp(p);
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    let dropped = 0;
    for (let t = 0; t < 12; t++) {
      let text = '';
      for (let i = 0; i < 1500; i++) text += rnd() < 0.5 ? 'a' : 'b';
      if (t % 2) text += 'c';
      const m1 = re.matcher();
      const m2 = re.matcher();
      for (let i = 0; i < text.length; i += 97) {
        m1.feedString(text.slice(i, i + 97));
        m2.feedString(text.slice(i, i + 97));
      }
      const want = v8.test(text);
      assert.equal(m1.exhausted || m2.exhausted, false);
      assert.equal(m1.end(), want, `matcher 1, case ${t}`);
      assert.equal(m2.end(), want, `matcher 2, case ${t}`);
      dropped = re.computed;
    }
    assert.ok(dropped > 1024 * 2, `the cache was dropped and rebuilt (${dropped} transitions worked out)`);
  });

  it('gives up, rather than spend seconds, when one search would work out more than MAX_WORK transitions', () => {
    const re = new LinearRegex('(a|b)*a(a|b){20}c');
    let text = '';
    let seed = 3;
    for (let i = 0; i < 200_000; i++) text += ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16) & 1 ? 'a' : 'b';
    const m = re.matcher();
    assert.equal(m.feedString(text + 'c'), false);
    assert.equal(m.exhausted, true);
    assert.equal(m.end(), false);
    assert.ok(re.computed <= MAX_WORK, `${re.computed} transitions, bounded by MAX_WORK`);
    // A search with a small DFA never comes near it, however long the text.
    const plain = new LinearRegex('(?i)ok.*(web|app)[0-9]+ up');
    const p = plain.matcher();
    p.feedString(text.repeat(5));
    assert.equal(p.exhausted, false);
  });
});
