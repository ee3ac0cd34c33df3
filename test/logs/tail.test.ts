/** The last N matching lines of a file, read backwards in chunks. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tailLines, type TailOptions } from '../../src/logs/tail';

describe('logs: last lines of a file', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'ld-tail-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function tail(content: string | Buffer, opts: Partial<TailOptions>) {
    const file = join(dir, 'log');
    writeFileSync(file, content);
    const fh = await open(file, 'r');
    try {
      const size = (await fh.stat()).size;
      return await tailLines(fh, { count: 10, size, accept: () => true, ...opts });
    } finally {
      await fh.close();
    }
  }

  const cases: Array<[string, string, Partial<TailOptions>, string[], number | null]> = [
    ['empty file', '', {}, [], 0],
    ['fewer lines than asked', 'a\nb\n', {}, ['a', 'b'], 4],
    ['the last N', 'a\nb\nc\nd\n', { count: 2 }, ['c', 'd'], 8],
    ['none asked', 'a\nb\n', { count: 0 }, [], 4],
    ['an unfinished last line counts', 'a\nb', { count: 2 }, ['a', 'b'], 3],
    ['completeOnly leaves an unfinished last line to the follower', 'a\nb\nc', { count: 2, completeOnly: true }, ['a', 'b'], 4],
    ['completeOnly with none asked still ends before it', 'a\nb\nc', { count: 0, completeOnly: true }, [], 4],
    ['empty lines are lines', 'a\n\nb\n', {}, ['a', '', 'b'], 5],
    ['CRLF', 'a\r\nb\r\n', {}, ['a', 'b'], 6],
    ['only matching lines count', 'x1\ny1\nx2\ny2\nx3\n', { count: 2, accept: (l) => l.startsWith('x') }, ['x2', 'x3'], 15],
    ['stop ends the scan', 'old\nnew1\nnew2\n', { stop: (l) => l === 'old' }, ['new1', 'new2'], 14],
  ];
  for (const [name, content, opts, lines, end] of cases) {
    it(name, async () => {
      const r = await tail(content, opts);
      assert.deepEqual(r.lines, lines);
      if (end !== null) assert.equal(r.end, end);
    });
  }

  it('lines across chunk boundaries, multibyte text split between chunks', async () => {
    const all = Array.from({ length: 5000 }, (_, i) => `[Sat Nov 21 10:50:06 2026|x|1] line ${i} — ünïcødé ${'x'.repeat(i % 97)}`);
    const r = await tail(all.join('\n') + '\n', { count: 3000 });
    assert.deepEqual(r.lines, all.slice(-3000));
    const every = await tail(all.join('\n') + '\n', { count: 10_000 });
    assert.deepEqual(every.lines, all);
  });

  it('a line longer than a chunk', async () => {
    const long = 'y'.repeat(200_000);
    assert.deepEqual((await tail(`a\n${long}\nb\n`, {})).lines, ['a', long, 'b']);
  });
});
