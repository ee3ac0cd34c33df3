/**
 * plan(config, health) → the desired table (src/reconcile/plan.ts), table-driven: each
 * row is a virtual, the state of its reals, and the destinations the kernel should hold
 * (`key weight mode`, in config order, the fallback last).
 */
import assert from 'node:assert/strict';
import { planVirtual } from '../../src/reconcile/plan';
import type { HealthView, MemberView, RealState } from '../../src/schedule/health';
import { config } from '../helpers/config';

interface Row {
  name: string;
  /** The virtual block (its reals first). */
  virtual: string;
  /** The global lines. */
  global?: string;
  /** Per real, in order: its state, and whether the kernel held it since the last start. */
  states: Array<RealState | `${RealState}+placed`>;
  readdquiescent?: boolean;
  dests: string[];
}

const REALS = '\treal=10.0.1.1:80 masq 2\n\treal=10.0.1.2:80 masq 3\n';
const FALLBACK = '\tfallback=10.0.9.9:80 masq\n';

const ROWS: Row[] = [
  {
    name: 'every real up: each at its weight, no fallback',
    virtual: REALS + FALLBACK,
    states: ['up', 'up'],
    dests: ['10.0.1.1:80 2 exact', '10.0.1.2:80 3 exact'],
  },
  {
    name: 'a real down, quiescent=no: absent',
    virtual: REALS,
    states: ['up', 'down'],
    dests: ['10.0.1.1:80 2 exact'],
  },
  {
    name: 'a real down, quiescent=yes, never placed: added at weight 0',
    virtual: REALS + '\tquiescent=yes\n',
    states: ['up', 'down'],
    dests: ['10.0.1.1:80 2 exact', '10.0.1.2:80 0 exact'],
  },
  {
    name: 'a real down, quiescent=yes, placed: weight 0 only if present (a hand removal stays)',
    virtual: REALS + '\tquiescent=yes\n',
    states: ['up', 'down+placed'],
    dests: ['10.0.1.1:80 2 exact', '10.0.1.2:80 0 zeroIfPresent'],
  },
  {
    name: 'readdquiescent=yes: a placed down real is put back at weight 0',
    virtual: REALS + '\tquiescent=yes\n',
    states: ['up', 'down+placed'],
    readdquiescent: true,
    dests: ['10.0.1.1:80 2 exact', '10.0.1.2:80 0 exact'],
  },
  {
    name: 'a real not checked yet: left as the kernel has it',
    virtual: REALS,
    states: ['pending', 'up'],
    dests: ['10.0.1.1:80 0 keep', '10.0.1.2:80 3 exact'],
  },
  {
    name: 'every real down: the fallback comes in at weight 1',
    virtual: REALS + FALLBACK,
    states: ['down', 'down'],
    dests: ['10.0.9.9:80 1 exact'],
  },
  {
    name: 'none up but some unchecked: the fallback is left as it is',
    virtual: REALS + FALLBACK,
    states: ['down', 'pending'],
    dests: ['10.0.1.2:80 0 keep', '10.0.9.9:80 1 keep'],
  },
  {
    name: 'gate reals of an address service are keyed rip:vport (the kernel rewrites the port, W-6)',
    virtual: '\treal=10.0.1.1:8080 gate 4\n',
    states: ['up'],
    dests: ['10.0.1.1:80 4 exact'],
  },
  {
    name: 'two reals the kernel keeps under one key: the first claims it, an up one takes it over',
    virtual: '\treal=10.0.1.1:8080 gate 4\n\treal=10.0.1.1:8081 gate 6\n',
    states: ['down', 'up'],
    dests: ['10.0.1.1:80 6 exact'],
  },
];

function view(states: Row['states']): HealthView {
  return (_v, i) => {
    const [state, placed] = states[i]!.split('+') as [RealState, string | undefined];
    const m: MemberView = { state, placed: placed === 'placed' };
    return m;
  };
}

describe('reconcile: plan (table)', () => {
  for (const row of ROWS) {
    it(row.name, async () => {
      const cfg = await config(`${row.global ?? ''}\nvirtual=10.0.0.1:80\n${row.virtual}`);
      const s = planVirtual(cfg.virtuals[0]!, view(row.states), { readdquiescent: row.readdquiescent ?? false });
      assert.deepEqual(
        [...s.dests.values()].map((d) => `${d.key} ${d.weight} ${d.mode}`),
        row.dests,
      );
    });
  }

  it('the service carries the virtual attributes ipvsadm is told', async () => {
    const cfg = await config(`
virtual=10.0.0.1:53
	real=10.0.1.1:53 masq
	protocol=udp
	scheduler=sh
	schedflags=sh-port
	persistent=300
	netmask=255.255.255.0
	ops=yes
`);
    const s = planVirtual(cfg.virtuals[0]!, view(['up']), { readdquiescent: false });
    assert.deepEqual(
      {
        key: s.key,
        scheduler: s.scheduler,
        persistent: s.persistent,
        netmask: s.netmask,
        ops: s.ops,
        flags: s.schedflags,
      },
      {
        key: 'udp:10.0.0.1:53',
        scheduler: 'sh',
        persistent: 300,
        netmask: '255.255.255.0',
        ops: true,
        flags: 'sh-port',
      },
    );
  });
});
