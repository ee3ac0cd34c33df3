/** The Perl regex translator: byte-string semantics, and Perl-only constructs refused. */
import assert from 'node:assert/strict';
import { perlRegex, PerlRegexError, toByteString } from '../../src/perl/regex';

describe('perl-regex', () => {
  const cases: Array<[string, string, boolean]> = [
    // pattern, subject, matches (as in Perl)
    ['OK', 'status: OK\n', true],
    ['^OK$', 'OK\n', true], // $ before a final newline
    ['^OK$', 'OK\n\n', false],
    ['^OK\\z', 'OK\n', false],
    ['^OK\\Z', 'OK\n', true],
    ['a.b', 'a\rb', true], // . matches \r in Perl
    ['a.b', 'a\nb', false],
    ['a\\sb', 'a\xa0b', false], // \s is ASCII on byte strings (NBSP is not space)
    ['a\\sb', 'a\tb', true],
    ['\\d{,2}x', '12x', true], // {,n} is {0,n} since Perl 5.34
    ['[[:digit:]]+', 'abc123', true],
    ['[[:alpha:]]{3}', '123', false],
    ['\\Q.*\\E', 'a.*b', true],
    ['\\Q.*\\E', 'ab', false],
    ['(?i)ok', 'OK', true],
    ['\\x41\\x{42}', 'AB', true],
    ['\\h+', 'a \t b', true],
    ['caf\xc3\xa9', toByteString('café'), true],
    ['web[0-9]+', 'OK web12', true],
    ['a/b', 'a/b', true],
  ];
  for (const [p, s, m] of cases) {
    it(`/${p.replace(/\n/g, '\\n')}/ ${m ? 'matches' : 'does not match'} ${JSON.stringify(s)}`, () => {
      assert.equal(perlRegex(p).test(s), m);
    });
  }
  for (const p of ['a++', '(?>a)', '\\G', '\\K', '\\p{L}', '(?i:x)', 'a(', '[a', '\\Ux']) {
    it(`refuses ${p}`, () => assert.throws(() => perlRegex(p), PerlRegexError));
  }
});
