/**
 * diff(desired, actual) → the ipvsadm operations (src/reconcile/diff.ts), table-driven:
 * each row is the kernel table (`ipvsadm -S -n` lines), the desired table (planned from a
 * config and the reals' states), and the operations in the order they must run.
 */
import assert from 'node:assert/strict';
import { diff, type Retired } from '../../src/reconcile/diff';
import { parseSave } from '../../src/reconcile/ipvsadm-save';
import { opArgv } from '../../src/reconcile/ops';
import { plan, serviceIdOf } from '../../src/reconcile/plan';
import type { RealState } from '../../src/schedule/health';
import { config } from '../helpers/config';

interface Row {
  name: string;
  /** The kernel's table, as `ipvsadm -S -n` prints it. */
  kernel: string[];
  config: string;
  /** State of each real, by address. */
  states: Record<string, RealState>;
  /** Services of an earlier config to take out (a reload). */
  retire?: string;
  ops: string[];
}

const V = `
virtual=10.0.0.1:80
	real=10.0.1.1:80 masq 2
	real=10.0.1.2:80 masq 3
`;

const ROWS: Row[] = [
  {
    name: 'an empty kernel: the service, then its reals',
    kernel: [],
    config: V,
    states: { '10.0.1.1': 'up', '10.0.1.2': 'up' },
    ops: [
      '-A -t 10.0.0.1:80 -s wrr',
      '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 2 -x 0 -y 0',
      '-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 3 -x 0 -y 0',
    ],
  },
  {
    name: 'in line already: nothing',
    kernel: [
      '-A -t 10.0.0.1:80 -s wrr',
      '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 2',
      '-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 3',
    ],
    config: V,
    states: { '10.0.1.1': 'up', '10.0.1.2': 'up' },
    ops: [],
  },
  {
    name: 'a weight changed by hand: put back; a scheduler changed: the service edited first',
    kernel: [
      '-A -t 10.0.0.1:80 -s rr',
      '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 9',
      '-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 3',
    ],
    config: V,
    states: { '10.0.1.1': 'up', '10.0.1.2': 'up' },
    ops: ['-E -t 10.0.0.1:80 -s wrr', '-e -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 2 -x 0 -y 0'],
  },
  {
    name: 'a down real and a stale one: deleted before anything is added',
    kernel: [
      '-A -t 10.0.0.1:80 -s wrr',
      '-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 3',
      '-a -t 10.0.0.1:80 -r 10.0.7.7:80 -m -w 1',
    ],
    config: V,
    states: { '10.0.1.1': 'up', '10.0.1.2': 'down' },
    ops: [
      '-d -t 10.0.0.1:80 -r 10.0.1.2:80',
      '-d -t 10.0.0.1:80 -r 10.0.7.7:80',
      '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 2 -x 0 -y 0',
    ],
  },
  {
    name: 'a service the config does not name is left alone',
    kernel: ['-A -t 10.9.9.9:80 -s wrr', '-a -t 10.9.9.9:80 -r 10.0.5.5:80 -m -w 1'],
    config: V,
    states: { '10.0.1.1': 'pending', '10.0.1.2': 'pending' },
    ops: ['-A -t 10.0.0.1:80 -s wrr'],
  },
  {
    name: 'a retired service is deleted last, after the new one is in',
    kernel: ['-A -t 10.0.0.2:80 -s wrr'],
    config: V,
    states: { '10.0.1.1': 'up', '10.0.1.2': 'down' },
    retire: '\nvirtual=10.0.0.2:80\n\treal=10.0.1.1:80 masq\n',
    ops: ['-A -t 10.0.0.1:80 -s wrr', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 2 -x 0 -y 0', '-D -t 10.0.0.2:80'],
  },
  {
    name: 'quiescent: a weight-0 add passes no thresholds; a restore does',
    kernel: ['-A -t 10.0.0.1:80 -s wrr', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 0'],
    config: V + '\tquiescent=yes\n',
    states: { '10.0.1.1': 'up', '10.0.1.2': 'down' },
    ops: ['-e -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 2 -x 0 -y 0', '-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 0'],
  },
];

describe('reconcile: diff (table)', () => {
  for (const row of ROWS) {
    it(row.name, async () => {
      const cfg = await config(row.config);
      const desired = plan(
        cfg.virtuals,
        (v, i) => ({ state: row.states[v.reals[i]!.address] ?? 'pending', placed: false }),
        { readdquiescent: false },
      );
      const parsed = parseSave(row.kernel.map((l) => l + '\n').join(''));
      assert.deepEqual(parsed.unknown, []);
      const retire: Retired[] = row.retire
        ? (await config(row.retire)).virtuals.map((v) => ({ svc: serviceIdOf(v), label: v.id, why: 'start' }))
        : [];
      assert.deepEqual(
        diff(desired, parsed.table, retire).map((op) => opArgv(op).join(' ')),
        row.ops,
      );
    });
  }
});
