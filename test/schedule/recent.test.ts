/**
 * The recent checks behind the status page's strip (src/schedule/recent.ts, and Health
 * keeping them only when asked), table-driven on explicit times.
 */
import assert from 'node:assert/strict';
import { Health } from '../../src/schedule/health';
import { buildProbes } from '../../src/schedule/probes';
import { MAX_CELLS, RECENT_WINDOW_MS, RecentChecks, type RecentCode } from '../../src/schedule/recent';
import { config } from '../helpers/config';

interface Row {
  name: string;
  /** Checks as [time in ms, code]. */
  checks: Array<[number, RecentCode]>;
  now: number;
  cells: string;
}

const MIN = 60_000;
const every = (n: number, stepMs: number, code: (i: number) => RecentCode): Array<[number, RecentCode]> =>
  Array.from({ length: n }, (_v, i) => [i * stepMs, code(i)]);

const ROWS: Row[] = [
  { name: 'nothing checked: no cells', checks: [], now: 0, cells: '' },
  {
    name: 'one cell per check, oldest first',
    checks: [
      [1000, 'u'],
      [2000, 'd'],
      [3000, 'm'],
      [4000, 'u'],
    ],
    now: 5000,
    cells: 'udmu',
  },
  {
    name: 'checks older than the window are left out',
    checks: [
      [0, 'd'],
      [MIN, 'u'],
      [RECENT_WINDOW_MS + 1, 'u'],
    ],
    now: RECENT_WINDOW_MS + MIN,
    cells: 'u',
  },
  {
    name: 'a check every 5 s: the whole window, 120 cells',
    checks: every(240, 5000, (i) => (i % 3 === 0 ? 'd' : 'u')),
    now: 239 * 5000,
    cells: every(240, 5000, (i) => (i % 3 === 0 ? 'd' : 'u'))
      .slice(120)
      .map(([, c]) => c)
      .join(''),
  },
  {
    name: 'a check every 100 ms: the last MAX_CELLS checks only',
    checks: every(2000, 100, (i) => (i < 1500 ? 'u' : 'd')),
    now: 200_000,
    cells: 'u'.repeat(MAX_CELLS - 500) + 'd'.repeat(500),
  },
];

describe('schedule: recent checks (table)', () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const r = new RecentChecks();
      for (const [at, code] of row.checks) r.add(at, code);
      assert.equal(r.cells(row.now), row.cells);
    });
  }

  it('Health keeps them only when asked, with maintenance as its own code', async () => {
    const cfg = await config(`
virtual=10.0.0.1:80
	real=10.0.1.1:80 masq
	service=http
`);
    const plan = buildProbes(cfg);
    const [probe] = plan.probes.keys();
    const ok = { up: true, cause: 'ok', reason: 'ok', ms: 1 } as const;
    const bad = { up: false, cause: 'refused', reason: 'refused', ms: 1 } as const;
    const health = new Health();
    health.sync(plan, () => 'pending', 0);
    health.record(probe!, ok, 1);
    assert.equal(health.probes.get(probe!)!.recent, null);
    health.keepRecent = true;
    health.record(probe!, bad, 2);
    health.record(probe!, bad, 3, true);
    health.record(probe!, ok, 4);
    assert.equal(health.probes.get(probe!)!.recent!.cells(5), 'dmu');
  });
});
