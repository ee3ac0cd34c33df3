/**
 * Entries: a message the daemon logged with newlines in it (an ipvsadm error) goes with
 * its first line through the filters, -n and --json.
 */
import assert from 'node:assert/strict';
import { BackwardSelector, ForwardSelector } from '../../src/logs/entries';
import { buildFilter, NO_FILTER, type LineFilter } from '../../src/logs/filter';
import { parseLine } from '../../src/logs/line';
import { renderJson } from '../../src/logs/render';

const FILE = [
  '[Sat Nov 21 10:50:00 2026|web.cf|7] Added real server: 10.0.1.1:8080 (10.0.0.1:80) (Weight set to 1)',
  '[Sat Nov 21 10:51:00 2026|web.cf|7] cannot read the IPVS table: /sbin/ipvsadm -S -n exited with status 2: modprobe: FATAL: Module ip_vs not found',
  "Can't initialize ipvs: Protocol not available",
  'Are you sure that IP Virtual Server is built in the kernel or as module? (will retry)',
  '[Sat Nov 21 10:52:00 2026|web.cf|7] Real server down: 10.0.1.1:8080 (tcp:10.0.0.1:80): connect ECONNREFUSED',
  '[Sat Nov 21 10:53:00 2026|web.cf|7] Deleted real server: 10.0.1.1:8080 (10.0.0.1:80)',
];

const f = (o: { virtual?: string; since?: string }): LineFilter => {
  const r = buildFilter(
    { virtual: o.virtual ?? null, real: null, since: o.since ?? null },
    new Date(2026, 10, 21, 12, 0),
  );
  if ('error' in r) throw new Error(r.error);
  return r;
};

function backwards(lines: string[], filter: LineFilter, count: number, stopBefore: number | null = null): string[] {
  const sel = new BackwardSelector(filter, count, stopBefore);
  let stopped = false;
  for (let i = lines.length - 1; i >= 0 && !stopped; i--) stopped = sel.prev(lines[i]!);
  if (!stopped) sel.finish();
  return sel.lines().map((l) => l.raw);
}

function forwards(lines: string[], filter: LineFilter): string[] {
  const sel = new ForwardSelector(filter);
  return lines
    .map((l) => sel.next(l))
    .filter((l) => l !== null)
    .map((l) => l!.raw);
}

describe('logs: entries over several lines', () => {
  it("a continuation line carries the first line's stamp, cfgname and pid", () => {
    const head = parseLine(FILE[1]!);
    const cont = parseLine(FILE[2]!, head);
    assert.equal(cont.continuation, true);
    assert.equal(cont.time, head.time);
    assert.equal(cont.cfgname, 'web.cf');
    assert.equal(cont.pid, 7);
    assert.equal(cont.message, "Can't initialize ipvs: Protocol not available");
    assert.equal(parseLine(FILE[2]!).continuation, false, 'without a head it is a line of its own');
  });

  it('-n counts entries: the last 3 entries are 5 lines', () => {
    assert.deepEqual(backwards(FILE, NO_FILTER, 3), FILE.slice(1));
    assert.deepEqual(backwards(FILE, NO_FILTER, 2), FILE.slice(4));
    assert.deepEqual(backwards(FILE, NO_FILTER, 100), FILE);
  });

  it('--since keeps the continuation lines of a kept entry, backwards and forwards', () => {
    assert.deepEqual(backwards(FILE, f({ since: '10:51' }), 100), FILE.slice(1));
    assert.deepEqual(backwards(FILE, f({ since: '10:52' }), 100), FILE.slice(4));
    assert.deepEqual(forwards(FILE, f({ since: '10:51' })), FILE.slice(1));
    assert.deepEqual(forwards(FILE, f({ since: '10:52' })), FILE.slice(4));
  });

  it('--virtual drops an entry that is no event, continuation lines and all', () => {
    const want = [FILE[0], FILE[4], FILE[5]];
    assert.deepEqual(backwards(FILE, f({ virtual: '10.0.0.1:80' }), 100), want);
    assert.deepEqual(forwards(FILE, f({ virtual: '10.0.0.1:80' })), want);
  });

  it('the backwards scan stops at an entry older than asked', () => {
    const at1052 = new Date(2026, 10, 21, 10, 52).getTime();
    assert.deepEqual(backwards(FILE, NO_FILTER, 100, at1052), FILE.slice(4));
  });

  it('lines before any prefixed line stand alone', () => {
    const lines = ['orphan 1', 'orphan 2', ...FILE.slice(4)];
    assert.deepEqual(backwards(lines, NO_FILTER, 100), lines);
    assert.deepEqual(backwards(lines, NO_FILTER, 3), lines.slice(1));
    assert.deepEqual(backwards(lines, f({ since: '10:00' }), 100), FILE.slice(4));
  });

  it('--json marks continuation lines', () => {
    const sel = new ForwardSelector(NO_FILTER);
    const objs = FILE.slice(1, 4).map((l) => JSON.parse(renderJson(sel.next(l)!)));
    assert.deepEqual(
      objs.map((o) => o.continued),
      [undefined, true, true],
    );
    assert.deepEqual(
      objs.map((o) => o.pid),
      [7, 7, 7],
    );
    assert.equal(objs[0].time, objs[2].time);
  });
});
