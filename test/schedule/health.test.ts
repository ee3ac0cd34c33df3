/**
 * Health transitions (src/schedule/health.ts), table-driven: a member's state, a sequence
 * of check results, and the transitions each result causes (`soft 1`, `down`, `up`, …).
 */
import assert from 'node:assert/strict';
import type { CheckResult } from '../../src/checks/kernel';
import { Health, type RealState } from '../../src/schedule/health';
import { buildProbes } from '../../src/schedule/probes';
import { config } from '../helpers/config';

interface Row {
  name: string;
  failurecount: number;
  /** The member's state before the first result (adopted from the kernel, or not checked). */
  initial: RealState;
  /** Results in order: `ok`, `fail`, or `forced` (a maintenance file). */
  results: Array<'ok' | 'fail' | 'forced'>;
  /** What each result caused, in order (`-` for nothing). */
  transitions: string[];
  /** successcount= (an addition; absent: the original's one success). */
  successcount?: number;
  /** The probe's phase after each result (failinginterval, downinterval), when given. */
  phases?: string[];
}

const ROWS: Row[] = [
  {
    name: 'an unchecked real: its first result decides, up or down',
    failurecount: 3,
    initial: 'pending',
    results: ['fail', 'ok'],
    transitions: ['down', 'up'],
  },
  {
    name: 'failurecount=3: two soft failures, then down; failures while down change nothing',
    failurecount: 3,
    initial: 'up',
    results: ['fail', 'fail', 'fail', 'fail'],
    transitions: ['soft 1', 'soft 2', 'down', '-'],
  },
  {
    name: 'a success after soft failures resets the count',
    failurecount: 3,
    initial: 'up',
    results: ['fail', 'ok', 'fail', 'fail'],
    transitions: ['soft 1', 'reset 1', 'soft 1', 'soft 2'],
  },
  {
    name: 'one success brings a down real back (no rise count, as the original)',
    failurecount: 1,
    initial: 'down',
    results: ['ok', 'ok'],
    transitions: ['up', '-'],
  },
  {
    name: 'maintenance takes an up real down at once, whatever failurecount says',
    failurecount: 5,
    initial: 'up',
    results: ['forced', 'ok'],
    transitions: ['down', 'up'],
  },
  {
    name: 'successcount=3: a down real needs three successes in a row; a failure starts over',
    failurecount: 1,
    successcount: 3,
    initial: 'down',
    results: ['ok', 'ok', 'fail', 'ok', 'ok', 'ok'],
    transitions: ['rise 1', 'rise 2', '-', 'rise 1', 'rise 2', 'up'],
    phases: ['failing', 'failing', 'down', 'failing', 'failing', 'healthy'],
  },
  {
    name: 'successcount=3: a real never checked comes up at its first success',
    failurecount: 1,
    successcount: 3,
    initial: 'pending',
    results: ['ok'],
    transitions: ['up'],
  },
  {
    name: 'soft failures are a failing phase; down is down',
    failurecount: 2,
    initial: 'up',
    results: ['fail', 'fail', 'ok'],
    transitions: ['soft 1', 'down', 'up'],
    phases: ['failing', 'down', 'healthy'],
  },
];

const result = (up: boolean): CheckResult => ({
  up,
  cause: up ? 'ok' : 'refused',
  reason: up ? 'ok' : 'refused',
  ms: 1,
});

describe('schedule: health transitions (table)', () => {
  for (const row of ROWS) {
    it(row.name, async () => {
      const cfg = await config(`
virtual=10.0.0.1:80
	real=10.0.1.1:80 masq
	service=http
	failurecount=${row.failurecount}
${row.successcount ? `\tsuccesscount=${row.successcount}\n` : ''}`);
      const plan = buildProbes(cfg);
      const health = new Health();
      health.sync(plan, () => row.initial, 0);
      const [probe] = plan.probes.keys();
      const phases: string[] = [];
      const seen = row.results.map((r, i) => {
        const ts = health.record(probe!, result(r === 'ok'), i + 1, r === 'forced');
        phases.push(health.phase(probe!));
        const said = (t: (typeof ts)[number]) =>
          t.kind === 'soft' || t.kind === 'reset'
            ? `${t.kind} ${t.failures}`
            : t.kind === 'rise'
              ? `rise ${t.successes}`
              : t.kind;
        return ts.map(said).join(',') || '-';
      });
      assert.deepEqual(seen, row.transitions);
      if (row.phases) assert.deepEqual(phases, row.phases);
    });
  }

  it('a reload keeps the state of an unchanged check, and a new check starts from its probe or the kernel', async () => {
    const text = (rq: string) => `
virtual=10.0.0.1:80
	real=10.0.1.1:80 masq
	real=10.0.1.2:80 masq
	service=http
	request="${rq}"
`;
    const health = new Health();
    const first = buildProbes(await config(text('/a')));
    health.sync(first, () => 'pending', 0);
    for (const key of first.probes.keys()) health.record(key, result(key.includes('10.0.1.1')), 1);
    // The same checks again: states carried over.
    health.sync(buildProbes(await config(text('/a'))), () => 'pending', 2);
    assert.deepEqual(
      [...health.members.values()].map((m) => m.state),
      ['up', 'down'],
    );
    // Another request: new probes, but what was known stays until they report.
    health.sync(buildProbes(await config(text('/b'))), () => 'pending', 3);
    assert.deepEqual(
      [...health.members.values()].map((m) => m.state),
      ['up', 'down'],
    );
  });
});
