/**
 * `receive=` patterns: Perl regexes matched against what a real sends, as bytes, in time
 * linear in what it sends (perl/linear-regex.ts), and incrementally: a check feeds each
 * chunk as it arrives and stops reading once the pattern has matched, so no body is kept
 * to be searched and no pattern can hold the event loop.
 *
 * Compiled once per distinct pattern text: a config with 10,000 reals usually has a handful
 * of patterns. A probe's identity is its spec as JSON (schedule/probes.ts), so a pattern
 * says what it is to JSON.
 */
import { LinearRegex, type Matcher } from '../perl/linear-regex';
import { toByteString } from '../perl/regex';
import type { Receive } from './kind';

const compiled = new Map<string, Receive>();
/** Bounded, so reloads that keep changing patterns cannot grow it without end. */
const COMPILED_MAX = 4096;

class PerlReceive implements Receive {
  private readonly re: LinearRegex;

  constructor(readonly source: string) {
    this.re = new LinearRegex(toByteString(source));
  }

  test(text: string): boolean {
    return this.re.test(text);
  }

  matcher(): Matcher {
    return this.re.matcher();
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
