/**
 * Perl regular expressions, matched in time linear in the text: `receive=` patterns run
 * against whatever a real server sends, and a backtracking engine (JavaScript's, Perl's)
 * can take exponential time on `(a+)+$` or quadratic on `.*OK` against a megabyte with no
 * "OK" in it. Here a pattern becomes a Thompson NFA run as a lazily built DFA (as RE2
 * does): each byte costs one table lookup once its state is known, whatever the pattern.
 *
 * Semantics are Perl's on byte strings (the text is latin1, one char per byte): `.` is any
 * byte but `\n` (any with /s), `\s` `\d` `\w` are ASCII, `$` is the end or before a final
 * newline, `(?i)` folds ASCII letters, quantifiers may be lazy (the same answer for "is
 * there a match"). What needs more than a finite automaton is refused with a reason, so a
 * config can say so at the line that holds it: backreferences, lookaround, atomic groups,
 * possessive quantifiers, recursion, \G, \K, Unicode properties.
 *
 * Matching is incremental: a Matcher is fed the text in chunks as it arrives, and says as
 * soon as the pattern matched, so a check never has to keep a body to search it.
 */
import { PerlRegexError } from './regex';

// --- byte sets ------------------------------------------------------------------------

/** A set of bytes, as 256 flags. */
type ByteSet = Uint8Array<ArrayBufferLike>;

const set = (...ranges: Array<[number, number]>): ByteSet => {
  const s = new Uint8Array(256);
  for (const [a, b] of ranges) for (let c = a; c <= b; c++) s[c] = 1;
  return s;
};
const invert = (s: ByteSet): ByteSet => s.map((x) => 1 - x);
const union = (a: ByteSet, b: ByteSet): ByteSet => a.map((x, i) => x | b[i]!);
const code = (c: string) => c.charCodeAt(0);

const DIGIT = set([48, 57]);
const WORD = set([48, 57], [65, 90], [97, 122], [95, 95]);
const SPACE = set([9, 13], [32, 32]);
const HSPACE = set([9, 9], [32, 32]);
const VSPACE = set([10, 13], [0x85, 0x85]);
const NEWLINE = set([10, 10]);

const CLASS_ESCAPES: Record<string, ByteSet> = {
  d: DIGIT,
  w: WORD,
  s: SPACE,
  h: HSPACE,
  v: VSPACE,
  D: invert(DIGIT),
  W: invert(WORD),
  S: invert(SPACE),
  H: invert(HSPACE),
  V: invert(VSPACE),
};

const POSIX: Record<string, ByteSet> = {
  alpha: set([65, 90], [97, 122]),
  digit: DIGIT,
  alnum: set([48, 57], [65, 90], [97, 122]),
  upper: set([65, 90]),
  lower: set([97, 122]),
  space: SPACE,
  blank: HSPACE,
  punct: set([33, 47], [58, 64], [91, 96], [123, 126]),
  print: set([32, 126]),
  graph: set([33, 126]),
  cntrl: set([0, 31], [127, 127]),
  xdigit: set([48, 57], [65, 70], [97, 102]),
  word: WORD,
  ascii: set([0, 127]),
};

/** ASCII case folding of a set (under /i). */
function fold(s: ByteSet): ByteSet {
  const out = Uint8Array.from(s);
  for (let c = 65; c <= 90; c++) if (s[c] || s[c + 32]) out[c] = out[c + 32] = 1;
  return out;
}

// --- the pattern as a tree --------------------------------------------------------------

type Assertion = 'bot' | 'eot' | 'eotnl' | 'bol' | 'eol' | 'word' | 'nonword';

type Node =
  | { t: 'bytes'; set: ByteSet }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; options: Node[] }
  | { t: 'repeat'; node: Node; min: number; max: number }
  | { t: 'assert'; a: Assertion };

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  x: boolean;
}

/** Counted repetitions expand into copies: a pattern may not grow past this many NFA states. */
const MAX_STATES = 20_000;

class Parser {
  private i = 0;

  constructor(private readonly p: string) {}

  parse(flags: Flags): Node {
    const node = this.alternation({ ...flags });
    if (this.i < this.p.length) {
      // Only an unmatched ')' stops the top level early.
      throw new PerlRegexError('Unmatched ) in regex');
    }
    return node;
  }

  private peek(k = 0): string | undefined {
    return this.p[this.i + k];
  }

  private alternation(f: Flags): Node {
    const options = [this.sequence(f)];
    while (this.peek() === '|') {
      this.i++;
      options.push(this.sequence(f));
    }
    return options.length === 1 ? options[0]! : { t: 'alt', options };
  }

  private sequence(f: Flags): Node {
    const items: Node[] = [];
    while (this.i < this.p.length) {
      const c = this.p[this.i]!;
      if (c === '|' || c === ')') break;
      if (f.x && /[ \t\n\r\f\x0B]/.test(c)) {
        this.i++;
        continue;
      }
      if (f.x && c === '#') {
        while (this.i < this.p.length && this.p[this.i] !== '\n') this.i++;
        continue;
      }
      const atom = this.atom(f);
      if (atom === null) continue;
      items.push(this.quantified(atom));
    }
    return items.length === 1 ? items[0]! : { t: 'seq', items };
  }

  /** One atom; null for what matches nothing and takes no quantifier (a comment, flags). */
  private atom(f: Flags): Node | null {
    const c = this.p[this.i]!;
    switch (c) {
      case '.':
        this.i++;
        return { t: 'bytes', set: f.s ? set([0, 255]) : invert(NEWLINE) };
      case '^':
        this.i++;
        return { t: 'assert', a: f.m ? 'bol' : 'bot' };
      case '$':
        this.i++;
        return { t: 'assert', a: f.m ? 'eol' : 'eotnl' };
      case '[':
        return { t: 'bytes', set: this.cls(f) };
      case '(':
        return this.group(f);
      case '\\':
        return this.escape(f);
      case '*':
      case '+':
      case '?':
        throw new PerlRegexError('Nothing to repeat');
      case '{':
        if (/^\{,?\d/.test(this.p.slice(this.i))) throw new PerlRegexError('Nothing to repeat');
        break;
    }
    this.i++;
    return this.literal(code(c), f);
  }

  private literal(b: number, f: Flags): Node {
    const s = set([b, b]);
    return { t: 'bytes', set: f.i ? fold(s) : s };
  }

  private group(f: Flags): Node | null {
    this.i++; // (
    let inner: Flags = f;
    if (this.peek() === '*') throw new PerlRegexError('backtracking control verbs are not supported');
    if (this.peek() === '?') {
      const rest = this.p.slice(this.i + 1);
      if (rest.startsWith('#')) {
        const end = this.p.indexOf(')', this.i);
        if (end < 0) throw new PerlRegexError('unterminated (?# comment');
        this.i = end + 1;
        return null;
      }
      if (/^(=|!|<=|<!)/.test(rest)) throw new PerlRegexError('lookaround assertions are not supported');
      if (rest.startsWith('>')) throw new PerlRegexError('atomic groups are not supported');
      if (/^[0-9R&+-]|^P[>=]|^\(/.test(rest)) throw new PerlRegexError('recursion and conditionals are not supported');
      if (rest.startsWith('{') || rest.startsWith('?{')) throw new PerlRegexError('embedded code is not supported');
      const named = /^(?:P?<|')[A-Za-z_]\w*[>']/.exec(rest);
      const mods = /^\^?([imsxn]*)(?:-([imsxn]*))?([:)])/.exec(rest);
      if (rest.startsWith(':')) this.i += 2;
      else if (named) this.i += 1 + named[0].length;
      else if (mods) {
        const next = { ...f };
        for (const m of mods[1]!) if (m in next) next[m as keyof Flags] = true;
        for (const m of mods[2] ?? '') if (m in next) next[m as keyof Flags] = false;
        this.i += 1 + mods[0].length;
        // (?i) changes the flags for the rest of the enclosing group; (?i:...) is a group.
        if (mods[3] === ')') {
          Object.assign(f, next);
          return null;
        }
        inner = next;
      } else throw new PerlRegexError(`unsupported group (?${rest.slice(0, 2)}`);
    }
    const node = this.alternation({ ...inner });
    if (this.peek() !== ')') throw new PerlRegexError('Unterminated group');
    this.i++;
    return node;
  }

  private quantified(atom: Node): Node {
    let min: number;
    let max: number;
    const c = this.peek();
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const m = /^\{(\d*)(,(\d*))?\}/.exec(this.p.slice(this.i));
      if (!m || (m[1] === '' && (m[2] === undefined || m[3] === ''))) return atom; // a literal {
      min = m[1] === '' ? 0 : Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (max < min) throw new PerlRegexError('numbers out of order in {} quantifier');
      this.i += m[0].length - 1;
    } else return atom;
    this.i++;
    if (this.peek() === '+') throw new PerlRegexError('possessive quantifiers are not supported');
    if (this.peek() === '?') this.i++; // lazy: the same answer to "does it match"
    if (atom.t === 'assert') return min === 0 ? { t: 'seq', items: [] } : atom;
    return { t: 'repeat', node: atom, min, max };
  }

  /** An escape outside a class. */
  private escape(f: Flags): Node | null {
    const e = this.p[this.i + 1];
    if (e === undefined) throw new PerlRegexError('trailing \\ in regex');
    const assertion: Record<string, Assertion> = { A: 'bot', z: 'eot', Z: 'eotnl', b: 'word', B: 'nonword' };
    if (e in assertion) {
      this.i += 2;
      return { t: 'assert', a: assertion[e]! };
    }
    if (e === 'Q') {
      const end = this.p.indexOf('\\E', this.i + 2);
      const lit = this.p.slice(this.i + 2, end < 0 ? this.p.length : end);
      this.i = end < 0 ? this.p.length : end + 2;
      return { t: 'seq', items: Array.from(lit, (ch) => this.literal(code(ch), f)) };
    }
    if (e === 'E') {
      this.i += 2;
      return null;
    }
    if (e === 'R') {
      this.i += 2;
      const crlf: Node = { t: 'seq', items: [this.literal(13, f), this.literal(10, f)] };
      return { t: 'alt', options: [crlf, { t: 'bytes', set: VSPACE }] };
    }
    if (e === 'N' && this.p[this.i + 2] !== '{') {
      this.i += 2;
      return { t: 'bytes', set: invert(NEWLINE) };
    }
    if (/[1-9]/.test(e) || e === 'g' || e === 'k') throw new PerlRegexError('backreferences are not supported');
    const s = this.escapeSet(false).set;
    return { t: 'bytes', set: f.i ? fold(s) : s };
  }

  /**
   * An escape that stands for a set of bytes (inside or outside a class); advances past it.
   * `single`: the byte it stands for, when it is one (it may then start a range).
   */
  private escapeSet(inClass: boolean): { set: ByteSet; single: number | null } {
    const e = this.p[this.i + 1];
    if (e === undefined) throw new PerlRegexError('trailing \\ in regex');
    const cls = CLASS_ESCAPES[e];
    if (cls) {
      this.i += 2;
      return { set: cls, single: null };
    }
    const byte = (b: number, len: number) => {
      this.i += len;
      return { set: set([b & 255, b & 255]), single: b & 255 };
    };
    const named: Record<string, number> = { n: 10, t: 9, r: 13, f: 12, e: 27, a: 7 };
    if (e in named) return byte(named[e]!, 2);
    if (e === 'b' && inClass) return byte(8, 2);
    const rest = this.p.slice(this.i + 2);
    switch (e) {
      case 'x': {
        const braced = /^\{([0-9A-Fa-f]*)\}/.exec(rest);
        if (braced) return byte(parseInt(braced[1] || '0', 16), 2 + braced[0].length);
        const h = /^[0-9A-Fa-f]{0,2}/.exec(rest)![0];
        return byte(parseInt(h || '0', 16), 2 + h.length);
      }
      case 'o': {
        const braced = /^\{([0-7]+)\}/.exec(rest);
        if (!braced) throw new PerlRegexError('malformed \\o{…}');
        return byte(parseInt(braced[1]!, 8), 2 + braced[0].length);
      }
      case 'c': {
        const ch = this.p[this.i + 2];
        if (ch === undefined) throw new PerlRegexError('malformed \\c');
        return byte(code(ch.toUpperCase()) ^ 64, 3);
      }
      case 'N':
        throw new PerlRegexError('\\N{…} named characters are not supported');
    }
    if (/[0-7]/.test(e) && (inClass || e === '0')) {
      const oct = /^[0-7]{1,3}/.exec(this.p.slice(this.i + 1))![0];
      return byte(parseInt(oct, 8), 1 + oct.length);
    }
    if (/[A-Za-z0-9]/.test(e)) {
      if ('GKXCpPluLUAzZBR'.includes(e))
        throw new PerlRegexError(`\\${e} is not supported${inClass ? ' in a class' : ''}`);
      throw new PerlRegexError(`unrecognized escape \\${e}`);
    }
    // Any other escaped character is that character, literally.
    return byte(code(e), 2);
  }

  /** A bracketed class at p[i] === '['. */
  private cls(f: Flags): ByteSet {
    this.i++;
    let negate = false;
    if (this.peek() === '^') {
      negate = true;
      this.i++;
    }
    let out: ByteSet = new Uint8Array(256);
    let first = true;
    while (this.i < this.p.length && (this.peek() !== ']' || first)) {
      first = false;
      const start = this.member();
      if (start.single !== null && this.peek() === '-' && this.peek(1) !== undefined && this.peek(1) !== ']') {
        this.i++;
        const end = this.member();
        if (end.single === null) throw new PerlRegexError('invalid range in character class');
        if (end.single < start.single) throw new PerlRegexError('invalid range in character class');
        out = union(out, set([start.single, end.single]));
      } else out = union(out, start.set);
    }
    if (this.i >= this.p.length) throw new PerlRegexError('Unterminated character class');
    this.i++; // ]
    if (f.i) out = fold(out);
    return negate ? invert(out) : out;
  }

  /** One member of a class: a byte (which may start a range) or a set. */
  private member(): { single: number | null; set: ByteSet } {
    const c = this.p[this.i]!;
    if (c === '[' && this.peek(1) === ':') {
      const m = /^\[:(\^?)([a-z]+):\]/.exec(this.p.slice(this.i));
      if (!m) throw new PerlRegexError('malformed POSIX class');
      const cls = POSIX[m[2]!];
      if (!cls) throw new PerlRegexError(`unknown POSIX class [:${m[2]}:]`);
      this.i += m[0].length;
      return { single: null, set: m[1] ? invert(cls) : cls };
    }
    if (c === '\\') return this.escapeSet(true);
    this.i++;
    return { single: code(c), set: set([code(c), code(c)]) };
  }
}

// --- the NFA -----------------------------------------------------------------------------

/** NFA states: consume a byte of `set`, branch, check an assertion, or match. */
type State =
  | { k: 'byte'; set: ByteSet; out: number }
  | { k: 'split'; out: number; out2: number }
  | { k: 'assert'; a: Assertion; out: number }
  | { k: 'match' };

class Nfa {
  readonly states: State[] = [];

  add(s: State): number {
    if (this.states.length >= MAX_STATES)
      throw new PerlRegexError('pattern too large (counted repeats expand into copies)');
    this.states.push(s);
    return this.states.length - 1;
  }

  /** Compile `node` so that it continues to `next`; returns its entry state. */
  compile(node: Node, next: number): number {
    switch (node.t) {
      case 'bytes':
        return this.add({ k: 'byte', set: node.set, out: next });
      case 'assert':
        return this.add({ k: 'assert', a: node.a, out: next });
      case 'seq': {
        let entry = next;
        for (let j = node.items.length - 1; j >= 0; j--) entry = this.compile(node.items[j]!, entry);
        return entry;
      }
      case 'alt': {
        let entry = this.compile(node.options[node.options.length - 1]!, next);
        for (let j = node.options.length - 2; j >= 0; j--) {
          entry = this.add({ k: 'split', out: this.compile(node.options[j]!, next), out2: entry });
        }
        return entry;
      }
      case 'repeat': {
        let entry = next;
        if (node.max === Infinity) {
          // x*: a split that loops back through x.
          const loop = this.add({ k: 'split', out: -1, out2: next });
          (this.states[loop] as { out: number }).out = this.compile(node.node, loop);
          entry = loop;
        } else {
          for (let j = node.min; j < node.max; j++) {
            entry = this.add({ k: 'split', out: this.compile(node.node, entry), out2: next });
          }
        }
        for (let j = 0; j < node.min; j++) entry = this.compile(node.node, entry);
        return entry;
      }
    }
  }
}

/**
 * `$` and `\Z` (Perl's, without /m) match before a final newline: that needs to know the
 * newline is the last byte. They are run as "consume that newline, then be at the end",
 * which is the same only when nothing after them in the pattern consumes a byte or looks
 * at a position (only more `$` or `\Z` may follow); anything else is refused (a `$` in the
 * middle of a pattern, `$\z`).
 */
function checkFinalNewline(nfa: Nfa): void {
  for (const s of nfa.states) {
    if (s.k !== 'assert' || s.a !== 'eotnl') continue;
    const seen = new Set<number>();
    const todo = [s.out];
    while (todo.length) {
      const id = todo.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const t = nfa.states[id]!;
      if (t.k === 'match') continue;
      if (t.k === 'split') todo.push(t.out, t.out2);
      else if (t.k === 'assert' && t.a === 'eotnl') todo.push(t.out);
      else throw new PerlRegexError('$ or \\Z followed by more pattern is not supported (use \\n, or (?m))');
    }
  }
}

// --- the lazy DFA ------------------------------------------------------------------------

/** What the previous byte was, for ^ (/m), \b and \A. */
const enum Ctx {
  Start = 0,
  Word = 1,
  Newline = 2,
  Other = 3,
}

const ctxOf = (b: number): Ctx => (WORD[b] ? Ctx.Word : b === 10 ? Ctx.Newline : Ctx.Other);

/**
 * A DFA state: the NFA byte states threads wait in, and what the previous byte was. Its
 * transitions live in the pattern's table, by `id`, valid while `gen` is the pattern's
 * generation (the cache is dropped when it grows past MAX_DSTATES).
 */
interface DState {
  id: number;
  gen: number;
  readonly key: string;
  readonly waiting: Int32Array;
  readonly ctx: Ctx;
  /** Whether the text may end here with a match (computed on first use: -1, 0, 1). */
  endMatch: number;
}

/** The state every thread is in once a match has ended: the answer is known. Always id 0. */
const MATCHED: DState = { id: 0, gen: -1, key: 'matched', waiting: new Int32Array(0), ctx: Ctx.Other, endMatch: 1 };
/**
 * DFA states kept per pattern. A hostile text can make a pattern visit many; past this
 * the cache is dropped and rebuilt as needed, so memory stays bounded (a state's row of
 * transitions is 1 KiB) and time stays linear, if slower.
 */
const MAX_DSTATES = 1024;

export class LinearRegex {
  private readonly nfa: Nfa;
  private readonly start: number;
  private gen = 0;
  private index = new Map<string, DState>();
  /** States of this generation by id (0 is MATCHED). */
  private byId: DState[] = [MATCHED];
  /**
   * Transitions: `table[id * 256 + byte]` is the next state's id, -1 while not worked out.
   * A flat typed array keeps the per-byte step a load and a compare.
   */
  table = new Int32Array(256 * 8).fill(-1);
  /** NFA states "at the end of the text, then `out`", one per `$` that waits for a final newline. */
  private readonly endStates = new Map<number, number>();
  readonly initialState: DState;
  /** Transitions worked out so far (each byte after that is a table lookup). */
  computed = 0;

  /** Compile `pattern` (Perl syntax, a byte string) with Perl `flags` (i, m, s, x). Throws PerlRegexError. */
  constructor(
    readonly source: string,
    flags = '',
  ) {
    const f: Flags = { i: flags.includes('i'), m: flags.includes('m'), s: flags.includes('s'), x: flags.includes('x') };
    const tree = new Parser(source).parse(f);
    this.nfa = new Nfa();
    const match = this.nfa.add({ k: 'match' });
    this.start = this.nfa.compile(tree, match);
    checkFinalNewline(this.nfa);
    this.table.fill(0, 0, 256); // MATCHED stays MATCHED
    this.initialState = this.state([], Ctx.Start);
  }

  /** Whether `text` (a byte string) contains a match. */
  test(text: string): boolean {
    const m = this.matcher();
    return m.feedString(text) || m.end();
  }

  matcher(): Matcher {
    return new Matcher(this);
  }

  private state(waiting: number[], ctx: Ctx): DState {
    const key = `${ctx}:${waiting.join(',')}`;
    const d = this.index.get(key);
    if (d) return d;
    return this.intern({ id: -1, gen: -1, key, waiting: Int32Array.from(waiting), ctx, endMatch: -1 });
  }

  /** Give `d` an id in this generation (dropping the cache first when it is full). */
  private intern(d: DState): DState {
    if (this.byId.length > MAX_DSTATES) {
      this.gen++;
      this.index = new Map();
      this.byId = [MATCHED];
      this.table = new Int32Array(256 * 8).fill(-1);
      this.table.fill(0, 0, 256);
    }
    d.id = this.byId.length;
    d.gen = this.gen;
    this.byId.push(d);
    this.index.set(d.key, d);
    if (this.table.length < this.byId.length * 256) {
      const grown = new Int32Array(this.table.length * 2).fill(-1);
      grown.set(this.table);
      this.table = grown;
    }
    return d;
  }

  /** The id of `d` in this generation (a state of an older one is interned again). */
  idOf(d: DState): number {
    if (d === MATCHED || d.gen === this.gen) return d.id;
    return (this.index.get(d.key) ?? this.intern(d)).id;
  }

  stateOf(id: number): DState {
    return this.byId[id]!;
  }

  /**
   * Follow branches and assertions from every waiting thread, and from a new thread at
   * this position (the search is unanchored), knowing the previous byte (the state's
   * context) and the next one (-1 at the end). Returns the byte states reached (a `$`
   * waiting for the final newline as -(out + 1)), or null when a match ended.
   */
  private closure(d: DState, next: number): number[] | null {
    const states = this.nfa.states;
    const seen = new Uint8Array(states.length);
    const out: number[] = [];
    const stack: number[] = [this.start, ...d.waiting];
    const prevWord = d.ctx === Ctx.Word;
    const nextWord = next >= 0 && WORD[next] === 1;
    while (stack.length) {
      const id = stack.pop()!;
      if (seen[id]) continue;
      seen[id] = 1;
      const s = states[id]!;
      if (s.k === 'match') return null;
      if (s.k === 'byte') out.push(id);
      else if (s.k === 'split') stack.push(s.out2, s.out);
      else if (this.holds(s.a, d.ctx, prevWord, next, nextWord)) stack.push(s.out);
      else if (s.a === 'eotnl' && next === 10) out.push(-(s.out + 1));
    }
    return out;
  }

  private holds(a: Assertion, ctx: Ctx, prevWord: boolean, next: number, nextWord: boolean): boolean {
    switch (a) {
      case 'bot':
        return ctx === Ctx.Start;
      case 'eot':
      case 'eotnl':
        return next < 0;
      case 'bol':
        // Perl's /m ^: at the start, or after a newline that is not the last byte.
        return ctx === Ctx.Start || (ctx === Ctx.Newline && next >= 0);
      case 'eol':
        return next < 0 || next === 10;
      case 'word':
        return prevWord !== nextWord;
      case 'nonword':
        return prevWord === nextWord;
    }
  }

  /** The id of the state after byte `b` from state `id`, worked out and cached on first use. */
  step(id: number, b: number): number {
    const d = this.byId[id]!;
    this.computed++;
    const reached = this.closure(d, b);
    let to: DState;
    if (reached === null) to = MATCHED;
    else {
      const after = new Set<number>();
      for (const r of reached) {
        // A `$` that met its newline: the text must end now.
        if (r < 0) after.add(this.endAfter(-r - 1));
        else {
          const s = this.nfa.states[r] as { set: ByteSet; out: number };
          if (s.set[b]) after.add(s.out);
        }
      }
      to = this.state(
        [...after].sort((x, y) => x - y),
        ctxOf(b),
      );
    }
    // Unless the cache was dropped in between (then `id` is of an older generation).
    if (d.gen === this.gen) this.table[id * 256 + b] = to.id;
    return to.id;
  }

  /** An NFA state "at the end of the text, then continue to `out`" (a `$` before a final newline). */
  private endAfter(out: number): number {
    let id = this.endStates.get(out);
    if (id === undefined) {
      id = this.nfa.states.length;
      this.nfa.states.push({ k: 'assert', a: 'eot', out });
      this.endStates.set(out, id);
    }
    return id;
  }

  /** Whether the text may end in state `d` with a match. */
  endsMatched(d: DState): boolean {
    if (d.endMatch < 0) d.endMatch = this.closure(d, -1) === null ? 1 : 0;
    return d.endMatch === 1;
  }
}

/**
 * Transitions one search may work out (about 2 µs each). A pattern whose DFA is small, as
 * every real-world receive is, needs a few hundred at most, once (the cache is shared by
 * every search of the pattern); only a pattern with an exponential DFA fed a text that
 * walks it (`(a|b)*a(a|b){20}` on random a/b) gets here. Such a search gives up
 * (`exhausted`) rather than spend seconds of the event loop: the text did not match.
 */
export const MAX_WORK = 20_000;

/** An incremental search: feed the text in pieces; true as soon as the pattern has matched. */
export class Matcher {
  private d: DState;
  private work = 0;
  /** The search gave up (MAX_WORK): it will not match, whatever follows. */
  exhausted = false;

  constructor(private readonly re: LinearRegex) {
    this.d = re.initialState;
  }

  get matched(): boolean {
    return this.d === MATCHED;
  }

  /** Feed bytes. Returns true once the pattern has matched (and ignores anything after). */
  feed(bytes: Uint8Array): boolean {
    if (this.exhausted) return false;
    const re = this.re;
    let s = re.idOf(this.d);
    let table = re.table;
    for (let i = 0, n = bytes.length; i < n && s !== 0; i++) {
      const next = table[s * 256 + bytes[i]!]!;
      if (next >= 0) s = next;
      else if (++this.work > MAX_WORK) {
        this.exhausted = true;
        break;
      } else {
        s = re.step(s, bytes[i]!);
        table = re.table; // grown or dropped
      }
    }
    this.d = re.stateOf(s);
    return s === 0;
  }

  /** Feed a byte string (latin1: one char per byte). */
  feedString(text: string): boolean {
    return this.feed(Buffer.from(text, 'latin1'));
  }

  /** The text ended: whether it matched. */
  end(): boolean {
    if (this.exhausted) return false;
    return this.d === MATCHED || this.re.endsMatched(this.d);
  }
}
