/** A file read backwards line by line, in chunks. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBackwards } from '../../src/logs/tail';

describe('logs: reading a file backwards', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'ld-tail-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The lines handed over (newest first), until `stopAfter` of them. */
  async function back(content: string | Buffer, opts: { completeOnly?: boolean; stopAfter?: number } = {}) {
    const file = join(dir, 'log');
    writeFileSync(file, content);
    const fh = await open(file, 'r');
    try {
      const size = (await fh.stat()).size;
      const lines: string[] = [];
      const r = await readBackwards(fh, {
        size,
        completeOnly: opts.completeOnly,
        onLine: (l) => lines.push(l) >= (opts.stopAfter ?? Infinity),
      });
      return { lines, ...r };
    } finally {
      await fh.close();
    }
  }

  const cases: Array<[string, string, { completeOnly?: boolean; stopAfter?: number }, string[], number, boolean]> = [
    ['empty file', '', {}, [], 0, true],
    ['every line, newest first', 'a\nb\nc\n', {}, ['c', 'b', 'a'], 6, true],
    ['stop when told', 'a\nb\nc\nd\n', { stopAfter: 2 }, ['d', 'c'], 8, false],
    ['an unfinished last line is a line', 'a\nb', {}, ['b', 'a'], 3, true],
    [
      'completeOnly leaves an unfinished last line to the follower',
      'a\nb\nc',
      { completeOnly: true },
      ['b', 'a'],
      4,
      true,
    ],
    ['empty lines are lines', 'a\n\nb\n', {}, ['b', '', 'a'], 5, true],
    ['a file that is one newline', '\n', {}, [''], 1, true],
    ['CRLF', 'a\r\nb\r\n', {}, ['b', 'a'], 6, true],
  ];
  for (const [name, content, opts, lines, end, atStart] of cases) {
    it(name, async () => {
      const r = await back(content, opts);
      assert.deepEqual(r.lines, lines);
      assert.equal(r.end, end);
      assert.equal(r.atStart, atStart);
    });
  }

  it('lines across chunk boundaries, multibyte text split between chunks', async () => {
    const all = Array.from(
      { length: 5000 },
      (_, i) => `[Sat Nov 21 10:50:06 2026|x|1] line ${i} — ünïcødé ${'x'.repeat(i % 97)}`,
    );
    const r = await back(all.join('\n') + '\n', { stopAfter: 3000 });
    assert.deepEqual(r.lines, all.slice(-3000).reverse());
    assert.deepEqual((await back(all.join('\n') + '\n')).lines, [...all].reverse());
  });

  it('a line longer than a chunk', async () => {
    const long = 'y'.repeat(200_000);
    assert.deepEqual((await back(`a\n${long}\nb\n`)).lines, ['b', long, 'a']);
  });
});
