/**
 * Config → probes (src/schedule/probes.ts), table-driven: which (virtual, real) pairs share
 * one probe (one check, one timer) and which get their own.
 */
import assert from 'node:assert/strict';
import { buildProbes } from '../../src/schedule/probes';
import { config } from '../helpers/config';

interface Row {
  name: string;
  config: string;
  /** Probes, each as the sorted member keys that share it. */
  probes: string[][];
  /** Members without a probe (checktype=off). */
  unchecked?: string[];
}

const ROWS: Row[] = [
  {
    name: 'one real in two virtuals with the same check: one probe for both (Perl real id)',
    config: `
virtual=10.0.0.1:80
	real=10.0.1.1:80 masq 2
	service=http
virtual=10.0.0.2:80
	real=10.0.1.1:80 masq 7
	service=http
`,
    probes: [['tcp:10.0.0.1:80|10.0.1.1:80', 'tcp:10.0.0.2:80|10.0.1.1:80']],
  },
  {
    name: 'a different request is a different check: two probes',
    config: `
virtual=10.0.0.1:80
	real=10.0.1.1:80 masq
	service=http
	request="/a"
virtual=10.0.0.2:80
	real=10.0.1.1:80 masq
	service=http
	request="/b"
`,
    probes: [['tcp:10.0.0.1:80|10.0.1.1:80'], ['tcp:10.0.0.2:80|10.0.1.1:80']],
  },
  {
    name: 'a real listed twice in one virtual is one member',
    config: `
virtual=10.0.0.1:80
	real=10.0.1.1:80 masq
	real=10.0.1.1:80 masq
	checktype=connect
`,
    probes: [['tcp:10.0.0.1:80|10.0.1.1:80']],
  },
  {
    name: 'checktype=off: a member without a probe; checktype=on: a probe that sends nothing',
    config: `
virtual=10.0.0.1:80
	real=10.0.1.1:80 masq
	checktype=off
virtual=10.0.0.2:80
	real=10.0.1.2:80 masq
	checktype=on
`,
    probes: [['tcp:10.0.0.2:80|10.0.1.2:80']],
    unchecked: ['tcp:10.0.0.1:80|10.0.1.1:80'],
  },
];

describe('schedule: probes from the config (table)', () => {
  for (const row of ROWS) {
    it(row.name, async () => {
      const plan = buildProbes(await config(row.config));
      assert.deepEqual(
        [...plan.probes.values()].map((p) => p.members.map((m) => m.key).sort()),
        row.probes,
      );
      assert.deepEqual(
        [...plan.members.values()].filter((m) => m.probe === null).map((m) => m.key),
        row.unchecked ?? [],
      );
    });
  }

  it('a probe is checked at the shortest checkinterval of the virtuals sharing it', async () => {
    const plan = buildProbes(
      await config(`
virtual=10.0.0.1:80
	real=10.0.1.1:80 masq
	checktype=connect
	checkinterval=7
virtual=10.0.0.2:80
	real=10.0.1.1:80 masq
	checktype=connect
	checkinterval=3
`),
    );
    assert.deepEqual(
      [...plan.probes.values()].map((p) => p.intervalMs),
      [3000],
    );
  });
});
