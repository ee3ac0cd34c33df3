/**
 * Translate a Perl regular expression (the subset ldirectord.cf authors use) into a
 * JavaScript RegExp with the same meaning.
 *
 * Why this exists: the Perl daemon matches `receive=` strings as Perl regexes against
 * byte strings, and its own config grammar is a set of Perl regexes. Perl and JS differ in
 * small ways that matter here:
 *   - Perl `.` matches `\r`; JS `.` does not (CRLF files and HTTP bodies).
 *   - Perl `$` (without /m) matches at the end *or before a final newline*; JS `$` only at
 *     the end.
 *   - On byte strings Perl `\s` is ASCII whitespace; JS `\s` also matches NBSP (0xA0)
 *     and other Unicode spaces, which appear when bytes are decoded as latin1.
 *   - Perl `\v`, `\h`, `\R`, `\A`, `\z`, `\Z`, `\Q…\E`, POSIX classes, `(?i)` and
 *     `{,n}` have no direct JS spelling.
 * Text given to the resulting RegExp must be a "byte string" (one char per byte, latin1),
 * which is how Perl sees it.
 *
 * Constructs with no faithful JS equivalent (atomic groups, possessive quantifiers,
 * `\G`, `\K`, `\p{…}`, case-modifying escapes, embedded code) raise PerlRegexError, so the
 * config parser can report them at the line that holds them instead of failing at check
 * time as the Perl daemon does.
 */

export class PerlRegexError extends Error {}

const WS = '\\t\\n\\x0B\\f\\r ';
const VWS = '\\n\\x0B\\f\\r\\x85';

/** Perl escapes valid both inside and outside a character class, as JS class content. */
const CLASS_ESCAPES: Record<string, string> = {
  s: WS,
  d: '0-9',
  w: 'A-Za-z0-9_',
  h: '\\t ',
  v: VWS,
};

const POSIX: Record<string, string> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: 'A-Za-z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: WS,
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  print: ' -~',
  graph: '!-~',
  cntrl: '\\x00-\\x1F\\x7F',
  xdigit: '0-9A-Fa-f',
  word: 'A-Za-z0-9_',
  ascii: '\\x00-\\x7F',
};

function hex2(code: number): string {
  return code <= 0xff ? '\\x' + code.toString(16).padStart(2, '0') : '\\u' + code.toString(16).padStart(4, '0');
}

function escapeLiteral(ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? '\\' + ch : ch;
}

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  x: boolean;
}

/**
 * Translate `pattern` (Perl syntax) to a JS RegExp.
 * `flags` are Perl modifiers applied to the whole pattern (i, m, s, x).
 */
export function perlRegex(pattern: string, flags = ''): RegExp {
  const f: Flags = { i: flags.includes('i'), m: flags.includes('m'), s: flags.includes('s'), x: flags.includes('x') };
  let pos = 0;
  // Leading inline modifiers such as (?i) or (?si) apply to the whole pattern.
  for (;;) {
    const lead = /^\(\?([imsx]+)\)/.exec(pattern.slice(pos));
    if (!lead) break;
    for (const c of lead[1]!) f[c as keyof Flags] = true;
    pos += lead[0].length;
  }
  const src = translate(pattern, pos, f);
  let jsFlags = '';
  if (f.i) jsFlags += 'i';
  try {
    return new RegExp(src, jsFlags);
  } catch (e) {
    // "Invalid regular expression: /<translated>/: Unterminated group" → "Unterminated group"
    throw new PerlRegexError((e as Error).message.replace(/^Invalid regular expression: \/[\s\S]*\/: /, ''));
  }
}

function translate(p: string, start: number, f: Flags): string {
  let out = '';
  let i = start;
  const n = p.length;
  const dot = f.s ? '[\\s\\S]' : '[^\\n]';
  const dollar = f.m ? '(?=\\n|$)' : '(?=\\n?$)';
  const caret = f.m ? '(?<=^|\\n)' : '^';
  while (i < n) {
    const c = p[i]!;
    if (f.x && /[ \t\n\r\f\x0B]/.test(c)) {
      i++;
      continue;
    }
    if (f.x && c === '#') {
      while (i < n && p[i] !== '\n') i++;
      continue;
    }
    switch (c) {
      case '\\': {
        const [t, len] = translateEscape(p, i, false);
        out += t;
        i += len;
        continue;
      }
      case '[': {
        const [t, len] = translateClass(p, i);
        out += t;
        i += len;
        continue;
      }
      case '.':
        out += dot;
        i++;
        continue;
      case '$':
        out += dollar;
        i++;
        continue;
      case '^':
        out += caret;
        i++;
        continue;
      case '(': {
        if (p[i + 1] === '?') {
          const rest = p.slice(i + 2);
          if (rest.startsWith('#')) {
            const end = p.indexOf(')', i);
            if (end < 0) throw new PerlRegexError('unterminated (?# comment');
            i = end + 1;
            continue;
          }
          if (
            rest.startsWith(':') ||
            rest.startsWith('=') ||
            rest.startsWith('!') ||
            rest.startsWith('<=') ||
            rest.startsWith('<!')
          ) {
            out += '(?' + (rest.startsWith('<') ? rest.slice(0, 2) : rest[0]);
            i += 2 + (rest.startsWith('<') ? 2 : 1);
            continue;
          }
          const named = /^(?:P?<|')([A-Za-z_][A-Za-z0-9_]*)[>']/.exec(rest);
          if (named) {
            out += '(?<' + named[1] + '>';
            i += 2 + named[0].length;
            continue;
          }
          const mods = /^([a-z^-]+)([:)])/.exec(rest);
          if (mods)
            throw new PerlRegexError(
              `inline modifier (?${mods[1]}${mods[2]} is only supported at the start of the pattern`,
            );
          throw new PerlRegexError(`unsupported group (?${rest.slice(0, 2)}`);
        }
        if (p[i + 1] === '*') throw new PerlRegexError('backtracking control verbs are not supported');
        out += '(';
        i++;
        continue;
      }
      case '{': {
        // Perl 5.34+ reads {,n} as {0,n}; JS would take it literally.
        const q = /^\{,(\d+)\}/.exec(p.slice(i));
        if (q) {
          out += '{0,' + q[1] + '}';
          i += q[0].length;
        } else {
          const full = /^\{\d+(,\d*)?\}/.exec(p.slice(i));
          out += full ? full[0] : '\\{';
          i += full ? full[0].length : 1;
        }
        checkPossessive(p, i);
        continue;
      }
      case '*':
      case '+':
      case '?':
        out += c;
        i++;
        if (p[i] === '?') {
          out += '?';
          i++;
        } else checkPossessive(p, i);
        continue;
      case '}':
        out += '\\}';
        i++;
        continue;
      case '/':
        out += '\\/';
        i++;
        continue;
      default:
        out += c;
        i++;
    }
  }
  return out;
}

function checkPossessive(p: string, i: number): void {
  if (p[i] === '+') throw new PerlRegexError('possessive quantifiers are not supported');
}

/** Translate one escape at p[i] === '\\'. Returns [js, consumed]. */
function translateEscape(p: string, i: number, inClass: boolean): [string, number] {
  const e = p[i + 1];
  if (e === undefined) throw new PerlRegexError('trailing \\ in regex');
  if (e in CLASS_ESCAPES) return [inClass ? CLASS_ESCAPES[e]! : '[' + CLASS_ESCAPES[e]! + ']', 2];
  const upper = e.toLowerCase();
  if (e !== upper && upper in CLASS_ESCAPES) {
    // \S \D \W \H \V: negations
    if (inClass) {
      if (e === 'D') return ['\\D', 2];
      if (e === 'W') return ['\\W', 2];
      throw new PerlRegexError(`\\${e} inside a character class is not supported`);
    }
    return ['[^' + CLASS_ESCAPES[upper]! + ']', 2];
  }
  switch (e) {
    case 'n':
    case 't':
    case 'r':
    case 'f':
      return ['\\' + e, 2];
    case 'e':
      return ['\\x1b', 2];
    case 'a':
      return ['\\x07', 2];
    case 'N':
      if (p[i + 2] === '{') throw new PerlRegexError('\\N{…} named characters are not supported');
      if (inClass) throw new PerlRegexError('\\N inside a character class is not supported');
      return ['[^\\n]', 2];
    case 'R':
      if (inClass) throw new PerlRegexError('\\R inside a character class');
      return ['(?:\\r\\n|[' + VWS + '])', 2];
    case 'A':
      if (inClass) break;
      return ['^', 2];
    case 'z':
      if (inClass) break;
      return ['$', 2];
    case 'Z':
      if (inClass) break;
      return ['(?=\\n?$)', 2];
    case 'b':
      return [inClass ? '\\x08' : '\\b', 2];
    case 'B':
      if (inClass) break;
      return ['\\B', 2];
    case 'x': {
      const braced = /^\{([0-9A-Fa-f]*)\}/.exec(p.slice(i + 2));
      if (braced) return [hex2(parseInt(braced[1] || '0', 16)), 2 + braced[0].length];
      const h = /^[0-9A-Fa-f]{0,2}/.exec(p.slice(i + 2))![0];
      return [hex2(parseInt(h || '0', 16)), 2 + h.length];
    }
    case 'o': {
      const braced = /^\{([0-7]+)\}/.exec(p.slice(i + 2));
      if (!braced) throw new PerlRegexError('malformed \\o{…}');
      return [hex2(parseInt(braced[1]!, 8)), 2 + braced[0].length];
    }
    case 'c': {
      const ch = p[i + 2];
      if (ch === undefined) throw new PerlRegexError('malformed \\c');
      return [hex2(ch.toUpperCase().charCodeAt(0) ^ 64), 3];
    }
    case 'g': {
      const m = /^(?:\{(-?\d+)\}|(-?\d+))/.exec(p.slice(i + 2));
      if (!m || (m[1] ?? m[2])!.startsWith('-')) throw new PerlRegexError('unsupported \\g reference');
      return ['\\' + (m[1] ?? m[2]), 2 + m[0].length];
    }
    case 'k': {
      const m = /^(?:<([A-Za-z_]\w*)>|\{([A-Za-z_]\w*)\}|'([A-Za-z_]\w*)')/.exec(p.slice(i + 2));
      if (!m) throw new PerlRegexError('malformed \\k reference');
      return ['\\k<' + (m[1] ?? m[2] ?? m[3]) + '>', 2 + m[0].length];
    }
    case 'Q': {
      const end = p.indexOf('\\E', i + 2);
      const lit = p.slice(i + 2, end < 0 ? p.length : end);
      return [Array.from(lit, escapeLiteral).join(''), (end < 0 ? p.length : end + 2) - i];
    }
    case 'E':
      return ['', 2];
    case 'G':
    case 'K':
    case 'X':
    case 'C':
    case 'p':
    case 'P':
    case 'l':
    case 'u':
    case 'L':
    case 'U':
      throw new PerlRegexError(`\\${e} is not supported`);
    default:
      break;
  }
  if (/[0-9]/.test(e)) {
    if (inClass || e === '0') {
      const oct = /^[0-7]{1,3}/.exec(p.slice(i + 1))![0];
      return [hex2(parseInt(oct, 8)), 1 + oct.length];
    }
    const num = /^\d+/.exec(p.slice(i + 1))![0];
    return ['\\' + num, 1 + num.length];
  }
  if (/[A-Za-z]/.test(e)) throw new PerlRegexError(`unrecognized escape \\${e}`);
  // Any other escaped character is that character, literally.
  return [escapeLiteral(e), 2];
}

/** Translate a bracketed class starting at p[i] === '['. Returns [js, consumed]. */
function translateClass(p: string, i: number): [string, number] {
  let j = i + 1;
  let out = '[';
  if (p[j] === '^') {
    out += '^';
    j++;
  }
  // A ']' first in the class is literal in Perl.
  if (p[j] === ']') {
    out += '\\]';
    j++;
  }
  while (j < p.length && p[j] !== ']') {
    const c = p[j]!;
    if (c === '[' && p[j + 1] === ':') {
      const m = /^\[:(\^?)([a-z]+):\]/.exec(p.slice(j));
      if (!m) throw new PerlRegexError('malformed POSIX class');
      const cls = POSIX[m[2]!];
      if (!cls) throw new PerlRegexError(`unknown POSIX class [:${m[2]}:]`);
      if (m[1]) throw new PerlRegexError('negated POSIX classes are not supported');
      out += cls;
      j += m[0].length;
      continue;
    }
    if (c === '\\') {
      const [t, len] = translateEscape(p, j, true);
      out += t;
      j += len;
      continue;
    }
    if (c === '[' || c === '/') {
      out += '\\' + c;
      j++;
      continue;
    }
    out += c;
    j++;
  }
  if (j >= p.length) throw new PerlRegexError('unmatched [ in regex');
  return [out + ']', j + 1 - i];
}

/** Convert a JS (UTF-16) string to the byte string Perl would see for its UTF-8 encoding. */
export function toByteString(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** The reverse of toByteString, for values read as bytes that are shown to people. */
export function fromByteString(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}
