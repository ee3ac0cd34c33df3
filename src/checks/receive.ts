/**
 * `receive=` patterns: Perl regexes matched against what a real sends, as bytes (a byte
 * string: latin1, one char per byte), as the Perl daemon matched them.
 *
 * Compiled once per distinct pattern text: a config with 10,000 reals usually has a handful
 * of patterns. A probe's identity is its spec as JSON (schedule/probes.ts), so a pattern
 * says what it is to JSON.
 */
import { perlRegex, toByteString } from '../perl/regex';
import type { Receive } from './kind';

const compiled = new Map<string, Receive>();
/** Bounded, so reloads that keep changing patterns cannot grow it without end. */
const COMPILED_MAX = 4096;

class PerlReceive implements Receive {
  private readonly re: RegExp;

  constructor(readonly source: string) {
    this.re = perlRegex(toByteString(source));
  }

  test(text: string): boolean {
    this.re.lastIndex = 0;
    return this.re.test(text);
  }

  toJSON(): string {
    return `/${this.source}/`;
  }
}

/** Compile a receive string (throws PerlRegexError); empty means "any answer counts". */
export function compileReceive(receive: string | null): Receive | null {
  if (!receive) return null;
  let r = compiled.get(receive);
  if (!r) {
    r = new PerlReceive(receive);
    if (compiled.size >= COMPILED_MAX) compiled.clear();
    compiled.set(receive, r);
  }
  return r;
}

/** The pattern for a reason: as written, at most 60 characters. */
export function showReceive(r: Receive): string {
  return r.source.length > 60 ? r.source.slice(0, 57) + '...' : r.source;
}

/** Text that arrives as a JS string (an LDAP DN, a DNS name) as the byte string Perl matched. */
export { toByteString };
