/**
 * Pool policy (src/reconcile/policy.ts and its use in plan.ts), table-driven: slow-start
 * weights over time, the panic threshold, and drains, as the planner turns them into the
 * destinations the kernel should hold (`key weight mode`, the fallback last).
 */
import assert from 'node:assert/strict';
import { planVirtual } from '../../src/reconcile/plan';
import { inPanic, slowStartWeight, type Drain } from '../../src/reconcile/policy';
import { activeConnections } from '../../src/reconcile/proc-ip-vs';
import type { HealthView, RealState } from '../../src/schedule/health';
import { config } from '../helpers/config';

describe('reconcile: slow start weights (table)', () => {
  const ROWS: Array<{ name: string; weight: number; seconds: number; at: number; want: string }> = [
    { name: 'no slow start configured: the weight at once', weight: 10, seconds: 0, at: 0, want: '10 -' },
    { name: 'weight 1 cannot ramp', weight: 1, seconds: 60, at: 0, want: '1 -' },
    { name: 'weight 10 over 60 s: step 1 of 10 at once', weight: 10, seconds: 60, at: 0, want: '1 6000' },
    { name: 'weight 10, 30 s in: step 6', weight: 10, seconds: 60, at: 30_000, want: '5 36000' },
    { name: 'weight 10, the last step before the end', weight: 10, seconds: 60, at: 59_999, want: '9 60000' },
    { name: 'weight 10, at the end: the configured weight', weight: 10, seconds: 60, at: 60_000, want: '10 -' },
    { name: 'weight 3: three steps, never 0', weight: 3, seconds: 30, at: 0, want: '1 10000' },
    { name: 'weight 3, 20 s of 30 in', weight: 3, seconds: 30, at: 20_000, want: '2 30000' },
    { name: 'weight 100: at most 10 steps', weight: 100, seconds: 100, at: 95_000, want: '91 100000' },
  ];
  for (const row of ROWS) {
    it(row.name, () => {
      const r = slowStartWeight(row.weight, 0, row.at, row.seconds);
      assert.equal(`${r.weight} ${r.nextAt ?? '-'}`, row.want);
    });
  }

  it('every weight a ramp passes through climbs, in at most 11 distinct values', () => {
    for (const weight of [2, 5, 10, 37, 100, 65535]) {
      const seen: number[] = [];
      for (let t = 0; t <= 60_000; t += 250) {
        const w = slowStartWeight(weight, 0, t, 60).weight;
        if (seen.at(-1) !== w) seen.push(w);
      }
      assert.ok(seen.length <= 11, `${weight}: ${seen.join(',')}`);
      assert.deepEqual(
        [...seen].sort((a, b) => a - b),
        seen,
        `${weight} climbs`,
      );
      assert.equal(seen.at(-1), weight);
      assert.ok(seen[0]! >= 1);
    }
  });
});

describe('reconcile: panic threshold (table)', () => {
  const ROWS: Array<{ name: string; threshold: number; states: RealState[]; panic: boolean }> = [
    { name: 'off (0): never', threshold: 0, states: ['down', 'down'], panic: false },
    { name: '50 %: one of four up is under it', threshold: 50, states: ['up', 'down', 'down', 'down'], panic: true },
    { name: '50 %: two of four up is not under it', threshold: 50, states: ['up', 'up', 'down', 'down'], panic: false },
    { name: '100 %: any real down', threshold: 100, states: ['up', 'up', 'down'], panic: true },
    { name: 'a real not checked yet: not judged', threshold: 50, states: ['down', 'pending'], panic: false },
    { name: 'no reals: no panic', threshold: 50, states: [], panic: false },
  ];
  for (const row of ROWS) it(row.name, () => assert.equal(inPanic(row.threshold, row.states), row.panic));
});

interface PlanRow {
  name: string;
  lines: string;
  states: RealState[];
  rampFrom?: Array<number | null>;
  drains?: Record<number, Drain['phase']>;
  now?: number;
  dests: string[];
  panic?: boolean;
}

const REALS = '\treal=10.0.1.1:80 masq 4\n\treal=10.0.1.2:80 masq 6\n\tfallback=10.0.9.9:80 masq\n';
const PLAN_ROWS: PlanRow[] = [
  {
    name: 'a Perl config: all down, the fallback serves',
    lines: '',
    states: ['down', 'down'],
    dests: ['10.0.9.9:80 1 exact'],
  },
  {
    name: 'panicthreshold=50, all down: every real in at its weight, no fallback',
    lines: '\tpanicthreshold=50\n',
    states: ['down', 'down'],
    dests: ['10.0.1.1:80 4 exact', '10.0.1.2:80 6 exact'],
    panic: true,
  },
  {
    name: 'panicthreshold=50, one of two up: not in panic, the down one out',
    lines: '\tpanicthreshold=50\n',
    states: ['up', 'down'],
    dests: ['10.0.1.1:80 4 exact'],
  },
  {
    name: 'slowstart=60, a real 30 s into its ramp: half its weight',
    lines: '\tslowstart=60\n',
    states: ['up', 'up'],
    rampFrom: [0, null],
    now: 30_000,
    dests: ['10.0.1.1:80 2 exact', '10.0.1.2:80 6 exact'],
  },
  {
    name: 'a drained real that is up: at weight 0 while draining',
    lines: '',
    states: ['up', 'up'],
    drains: { 1: 'draining' },
    dests: ['10.0.1.1:80 4 exact', '10.0.1.2:80 0 exact'],
  },
  {
    name: 'a drain done: out of the table, however healthy',
    lines: '',
    states: ['up', 'up'],
    drains: { 1: 'drained' },
    dests: ['10.0.1.1:80 4 exact'],
  },
  {
    name: 'a drain wins over panic; a drained real does not keep the fallback out',
    lines: '\tpanicthreshold=100\n',
    states: ['up', 'down'],
    drains: { 0: 'drained' },
    dests: ['10.0.1.2:80 6 exact'],
    panic: true,
  },
  {
    name: 'the only real up is drained: the fallback serves',
    lines: '',
    states: ['up', 'down'],
    drains: { 0: 'drained' },
    dests: ['10.0.9.9:80 1 exact'],
  },
];

describe('reconcile: plan with pool policy (table)', () => {
  for (const row of PLAN_ROWS) {
    it(row.name, async () => {
      const cfg = await config(`virtual=10.0.0.1:80\n${REALS}${row.lines}`);
      const v = cfg.virtuals[0]!;
      const view: HealthView = (_v, i) => ({
        state: row.states[i]!,
        placed: true,
        rampFrom: row.rampFrom?.[i] ?? null,
      });
      const drains = new Map(
        Object.entries(row.drains ?? {}).map(([i, phase]) => [
          `${v.id}|${v.reals[Number(i)]!.address}:80`,
          { since: 0, deadline: 1, phase },
        ]),
      );
      const s = planVirtual(v, view, { readdquiescent: false, now: row.now ?? 0, drains });
      assert.deepEqual(
        [...s.dests.values()].map((d) => `${d.key} ${d.weight} ${d.mode}`),
        row.dests,
      );
      assert.equal(s.panic, row.panic ?? false);
    });
  }
});

describe('reconcile: active connections from /proc/net/ip_vs', () => {
  it('per destination, keyed as the table keys services and destinations', () => {
    const text = [
      'IP Virtual Server version 1.2.1 (size=4096)',
      'Prot LocalAddress:Port Scheduler Flags',
      '  -> RemoteAddress:Port Forward Weight ActiveConn InActConn',
      'TCP  0A000001:0050 wrr',
      '  -> 0A090101:1F90      Masq    0      3          7',
      '  -> 0A090102:1F90      Masq    5      0          2',
      'UDP  0A000001:0035 rr',
      '  -> 0A090101:0035      Route   1      0          0',
      'FWM  00000005 wrr',
      '  -> 0A090103:0000      Route   1      12         0',
      'FWM  00000006 wrr',
      '  -> [2001:0db8:0000:0000:0000:0000:0000:0003]:0000      Route   1      2          0',
      'TCP  [2001:0db8:0000:0000:0000:0000:0000:0001]:0050 wrr',
      '  -> [2001:0db8:0000:0000:0000:0000:0000:0002]:0050      Masq    1      4          0',
      '',
    ].join('\n');
    assert.deepEqual(Object.fromEntries(activeConnections(text)), {
      'tcp:10.0.0.1:80|10.9.1.1:8080': 3,
      'tcp:10.0.0.1:80|10.9.1.2:8080': 0,
      'udp:10.0.0.1:53|10.9.1.1:53': 0,
      'fwm:5|10.9.1.3:0': 12,
      'fwm6:6|[2001:db8::3]:0': 2,
      'tcp:[2001:db8::1]:80|[2001:db8::2]:80': 4,
    });
  });
});
