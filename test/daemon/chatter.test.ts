/** daemon/chatter.ts: library console output goes through the logger, bounded and rate-limited. */
import assert from 'node:assert/strict';
import { CHATTER_PER_MINUTE, routeLibraryChatter } from '../../src/daemon/chatter';

describe('daemon: library chatter', () => {
  it('logs console.warn/error as inert lines, at most CHATTER_PER_MINUTE a minute, then a count', () => {
    const lines: string[] = [];
    const log = {
      info: (m: string) => lines.push(`info ${m}`),
      warn: (m: string) => lines.push(`warn ${m}`),
      error: (m: string) => lines.push(`error ${m}`),
      debug: (m: string) => lines.push(`debug ${m}`),
    };
    let now = 1_000_000;
    const original = console.warn;
    const restore = routeLibraryChatter(log, () => now);
    try {
      console.warn('Ignoring invalid option %s\n[forged] line\x1b[31m', 'x'.repeat(2000));
      for (let i = 0; i < 30; i++) console.error('again', i);
      now += 61_000;
      console.warn('later');
    } finally {
      restore();
    }
    assert.equal(lines.length, CHATTER_PER_MINUTE + 2, lines.join('\n'));
    assert.match(lines[0]!, /^warn library: Ignoring invalid option x+\.\.\. \(\d+ bytes\)$/);
    assert.ok(!/[\n\x1b]/.test(lines.join('')), 'no raw newline or escape');
    assert.equal(lines[1], 'error library: again 0');
    assert.equal(
      lines.at(-2),
      `warn ${31 - CHATTER_PER_MINUTE} more library messages were left out in the last minute`,
    );
    assert.equal(lines.at(-1), 'warn library: later');
    assert.equal(console.warn, original, 'restored');
  });
});
