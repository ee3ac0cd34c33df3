/**
 * The bounded-frequency runner (src/schedule/runner.ts) in fake time: when runs start, for
 * which reason, for scripted requests, run durations and failures.
 */
import assert from 'node:assert/strict';
import { BoundedRunner, type RunReason } from '../../src/schedule/runner';
import { FakeClock } from '../../src/testing/fake-clock';

interface Scenario {
  name: string;
  minGapMs: number;
  periodMs: number;
  retryMs?: number;
  settleMs?: number;
  /** Start the periodic runs at t=0. */
  periodic?: boolean;
  /** How long each run takes (by run number; the last value repeats). */
  runMs?: number[];
  /** Which runs fail (by run number). */
  failing?: number[];
  /** Times at which request() is called. */
  requests: number[];
  /** How long to run the clock. */
  until: number;
  /** Expected run starts: `<time> <reason>`. */
  runs: string[];
}

const SCENARIOS: Scenario[] = [
  {
    name: 'a request after a quiet spell runs at once',
    minGapMs: 100,
    periodMs: 0,
    requests: [500],
    until: 2000,
    runs: ['500 requested'],
  },
  {
    name: 'requests in a burst run at the gap, coalesced',
    minGapMs: 100,
    periodMs: 0,
    requests: [0, 10, 20, 30, 150, 160],
    until: 1000,
    runs: ['0 requested', '100 requested', '200 requested'],
  },
  {
    name: 'requests during a run lead to exactly one more run, after it',
    minGapMs: 10,
    periodMs: 0,
    runMs: [300, 0],
    requests: [0, 50, 60, 70],
    until: 1000,
    runs: ['0 requested', '300 requested'],
  },
  {
    name: 'periodic runs count from the start of the last run, requested or not',
    minGapMs: 100,
    periodMs: 1000,
    periodic: true,
    requests: [2500],
    until: 5000,
    runs: ['1000 periodic', '2000 periodic', '2500 requested', '3500 periodic', '4500 periodic'],
  },
  {
    name: 'a failed run is retried with back-off doubling up to the period',
    minGapMs: 100,
    periodMs: 10_000,
    retryMs: 1000,
    periodic: true,
    failing: [0, 1, 2, 3],
    requests: [0],
    until: 20_000,
    runs: ['0 requested', '1000 retry', '3000 retry', '7000 retry', '15000 retry'],
  },
  {
    name: 'a request is still served at the gap while retries back off',
    minGapMs: 100,
    periodMs: 10_000,
    retryMs: 1000,
    failing: [0],
    requests: [0, 300],
    until: 5000,
    runs: ['0 requested', '300 requested'],
  },
  {
    name: 'settleMs waits for a burst of requests to end before running',
    minGapMs: 0,
    periodMs: 0,
    settleMs: 300,
    requests: [0, 100, 200],
    until: 2000,
    runs: ['300 requested'],
  },
];

async function play(sc: Scenario): Promise<string[]> {
  const clock = new FakeClock(0);
  const runs: string[] = [];
  let n = 0;
  const runner = new BoundedRunner({
    clock,
    minGapMs: sc.minGapMs,
    periodMs: () => sc.periodMs,
    retryMs: sc.retryMs,
    settleMs: sc.settleMs,
    run: (why: RunReason) => {
      const i = n++;
      runs.push(`${clock.now()} ${why}`);
      const ms = sc.runMs ? (sc.runMs[i] ?? sc.runMs[sc.runMs.length - 1]!) : 0;
      const ok = !(sc.failing ?? []).includes(i);
      return new Promise((resolve) => clock.setTimeout(() => resolve(ok), ms));
    },
  });
  if (sc.periodic) runner.start();
  for (const t of sc.requests) clock.setTimeout(() => void runner.request(), t);
  await clock.advance(sc.until);
  await runner.stop();
  return runs;
}

describe('schedule: bounded-frequency runner', () => {
  for (const sc of SCENARIOS) {
    it(sc.name, async () => {
      assert.deepEqual(await play(sc), sc.runs);
    });
  }

  it('request() resolves once a run that started after it has ended', async () => {
    const clock = new FakeClock(0);
    const ended: number[] = [];
    const runner = new BoundedRunner({
      clock,
      minGapMs: 0,
      periodMs: () => 0,
      run: () => new Promise((resolve) => clock.setTimeout(() => (ended.push(clock.now()), resolve(true)), 100)),
    });
    let firstDone = -1;
    let secondDone = -1;
    void runner.request().then(() => (firstDone = clock.now()));
    await clock.advance(50);
    // Asked during the first run: served by the second.
    void runner.request().then(() => (secondDone = clock.now()));
    await clock.advance(1000);
    assert.deepEqual(ended, [100, 200]);
    assert.equal(firstDone, 100);
    assert.equal(secondDone, 200);
  });

  it('stop: no more runs, and waiting requests are released', async () => {
    const clock = new FakeClock(0);
    let runs = 0;
    const runner = new BoundedRunner({
      clock,
      minGapMs: 1000,
      periodMs: () => 500,
      run: async () => (runs++, true),
    });
    runner.start();
    void runner.request();
    await clock.advance(10);
    const waiting = runner.request(); // due at 1000
    await runner.stop();
    await waiting;
    await clock.advance(5000);
    assert.equal(runs, 1);
  });
});
