/**
 * The scheduler's timing in fake time: probes due together start at most 64 to a turn
 * of the event loop (the rest right after), a hold starts nothing new until released
 * (checks in flight go on), and removing a probe leaves its check in flight to end on its
 * own while never running it again.
 */
import assert from 'node:assert/strict';
import type { CheckResult } from '../../src/checks/kernel';
import type { ProbeSpec } from '../../src/checks/registry';
import { FakeClock } from '../../src/testing/fake-clock';
import type { ProbeDef } from '../../src/schedule/probes';
import { Scheduler } from '../../src/schedule/scheduler';

function probes(n: number, intervalMs = 1000): Map<string, ProbeDef> {
  const m = new Map<string, ProbeDef>();
  for (let i = 0; i < n; i++) {
    const spec: ProbeSpec = { kind: 'connect', host: `127.0.${i >> 8}.${i & 255}`, port: 80, timeoutMs: 500 };
    m.set(`p${i}`, {
      key: `p${i}`,
      watch: { mode: 'probe', spec },
      intervalMs,
      failingMs: null,
      downMs: null,
      address: spec.host,
      port: 80,
      members: [],
    });
  }
  return m;
}

function setup(opts: { hang?: boolean } = {}) {
  const clock = new FakeClock();
  const started: string[] = [];
  const results: string[] = [];
  const open = new Set<() => void>();
  const sched = new Scheduler({
    clock,
    run: (spec: ProbeSpec): Promise<CheckResult> => {
      started.push((spec as { host: string }).host);
      if (!opts.hang) return Promise.resolve({ up: true, cause: 'ok', reason: 'ok', ms: 0 });
      return new Promise((resolve) => {
        const end = () => resolve({ up: true, cause: 'ok', reason: 'ok', ms: 0 });
        open.add(end);
      });
    },
    onResult: (p) => void results.push(p.key),
    maxInFlight: 10_000,
    jitter: 0,
    random: () => 0.5,
  });
  return { clock, sched, started, results, open };
}

describe('scheduler', () => {
  it('probes due at once start at most 64 to a turn, the rest on the next turns', async () => {
    const { clock, sched, started } = setup({ hang: true });
    // Count the checks each timer callback (one turn of the event loop) starts.
    const perTurn: number[] = [];
    const set = clock.setTimeout.bind(clock);
    clock.setTimeout = (fn: () => void, ms: number) =>
      set(() => {
        const before = started.length;
        fn();
        if (started.length > before) perTurn.push(started.length - before);
      }, ms);
    sched.setProbes(probes(200), () => false);
    await clock.advance(0);
    assert.equal(started.length, 200, 'all start in the same millisecond');
    assert.deepEqual(perTurn, [64, 64, 64, 8], 'at most 64 to a turn');
    sched.stop();
  });

  it('hold: nothing new starts until release (or its time limit); checks in flight still report', async () => {
    const { clock, sched, started, results, open } = setup({ hang: true });
    sched.setProbes(probes(3), () => true); // known: first runs spread over the interval
    await clock.advance(1000);
    assert.equal(started.length, 3);
    sched.hold(5000);
    for (const end of open) end();
    open.clear();
    await clock.advance(0);
    assert.equal(results.length, 3, 'the checks in flight reported during the hold');
    await clock.advance(3000);
    assert.equal(started.length, 3, 'nothing started while held, though all were due');
    sched.release();
    await clock.advance(0);
    assert.equal(started.length, 6, 'released: the due probes start at once');
    for (const end of open) end();
    open.clear();
    sched.hold(2000);
    await clock.advance(2500);
    assert.ok(started.length > 6, 'a hold ends by itself after its limit');
    sched.stop();
  });

  it('a removed probe never runs again; its check in flight ends on its own and is ignored', async () => {
    const { clock, sched, started, results, open } = setup({ hang: true });
    sched.setProbes(probes(2), () => false);
    await clock.advance(0);
    assert.equal(started.length, 2);
    const keep = new Map([...probes(2)].filter(([k]) => k === 'p0'));
    sched.setProbes(keep, () => true);
    for (const end of open) end();
    await clock.advance(5000);
    assert.ok(!results.includes('p1'), "the removed probe's late result is ignored");
    assert.equal(started.filter((h) => h === '127.0.0.1').length, 1, 'and it never ran again');
    assert.ok(started.filter((h) => h === '127.0.0.0').length >= 2, 'the kept probe goes on');
    sched.stop();
  });
});
