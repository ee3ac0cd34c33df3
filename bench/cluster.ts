/**
 * `npm run bench:cluster`: failover times of this daemon in the two-node Pacemaker/Corosync
 * cluster of the cluster test (test/cluster/cluster.ts). A benchmark, not a test: it prints
 * one JSON line per run and a summary, and asserts nothing.
 *
 *   npm run bench:cluster -- [--runs 5]
 *
 * Faults, each `--runs` times, from a settled cluster (VIP and the full table on one node,
 * Pacemaker idle, for 3 s):
 *   standby      `crm_attribute … standby on` for the active node (then back online)
 *   power_cut    SIGKILL of every process of the active node (corosync, pacemakerd, …,
 *                ldirectord); the node is started again after the run
 *   ld_crash     SIGKILL of the active node's ldirectord: the agent's monitor notices and
 *                Pacemaker restarts it in place (the table and the VIP stay: the time is
 *                that of the restart, during which nothing manages the table)
 *   clone_move   ldirectord cloned on both nodes: `crm_resource --move` of the VIP only
 *   clone_standby  the same deployment: standby of the node holding the VIP
 * Measured: fault → the VIP configured on the surviving node and that node's table holding
 * every real (polled every 20 ms from outside). The host has no IPVS, so "serving" is that
 * state of the node, not packets through it (the kernel tables are the per-node stand-ins).
 */
import { Cluster, REALS, VIP, sleep } from '../test/cluster/cluster';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const RUNS = Number(arg('runs', '5'));
const CONFIG = `
checkinterval=1
checktimeout=1
quiescent=no
virtual=${VIP}:80
${REALS.map((a, i) => `\treal=${a}:8080 masq ${i + 1}`).join('\n')}
	checktype=connect
`;
const FULL = `-A -t ${VIP}:80 -s wrr\n` + REALS.map((a, i) => `-a -t ${VIP}:80 -r ${a}:8080 -m -w ${i + 1}\n`).join('');
const other = (n: number) => (n === 1 ? 2 : 1);
/** How long the state must hold before a fault: more than the 2 s monitor interval. */
const SETTLE_MS = 3000;

/** The node serving: the VIP on it and the full table in its kernel. */
function serving(c: Cluster): number | null {
  const n = c.vipOn();
  return n && c.table(n) === FULL ? n : null;
}

/**
 * A settled cluster: one node serving, Pacemaker placing the resources there, no agent
 * starting or stopping anything, and all of it unchanged for SETTLE_MS (longer than the
 * monitor interval). A fault injected right after a node rejoined (the previous run's
 * power cut) met Pacemaker still busy with that, and a standby then took a second more:
 * that is not the failover being measured.
 */
async function settled(c: Cluster, clone = false): Promise<number> {
  const state = () => {
    const n = serving(c);
    if (!n || c.where(clone ? 'vip' : 'ld') !== `node${n}` || !c.idle()) return false;
    return clone || c.table(other(n)) === '' ? n : false;
  };
  for (;;) {
    const n = await c.waitFor('a settled cluster', state);
    await sleep(SETTLE_MS);
    if (state() === n) return n;
  }
}

async function time(c: Cluster, fault: () => void, done: () => boolean): Promise<number> {
  const t0 = performance.now();
  fault();
  await c.waitFor('the survivor serving', done, 120_000);
  return (performance.now() - t0) / 1000;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor((s.length - 1) / 2)]!, max: s.at(-1)! };
};

async function main(): Promise<void> {
  const results: Record<string, number[]> = {
    standby: [],
    power_cut: [],
    ld_crash: [],
    clone_move: [],
    clone_standby: [],
  };
  const record = (fault: string, seconds: number) => {
    results[fault]!.push(seconds);
    console.log(JSON.stringify({ fault, seconds: Number(seconds.toFixed(3)) }));
  };
  const group = new Cluster('group');
  try {
    await group.setUp(CONFIG);
    for (let i = 0; i < RUNS; i++) {
      let n = await settled(group);
      record(
        'standby',
        await time(
          group,
          () => group.standby(n, true),
          () => serving(group) === other(n),
        ),
      );
      group.standby(n, false);
      n = await settled(group);
      const pid = group.daemonPid(n)!;
      record(
        'ld_crash',
        await time(
          group,
          () => process.kill(pid, 'SIGKILL'),
          () => {
            const p = group.daemonPid(n);
            return p !== null && p !== pid && serving(group) === n && group.where('ld') === `node${n}`;
          },
        ),
      );
      await sleep(3000); // the monitor's next clean result, before the next fault
      n = await settled(group);
      record(
        'power_cut',
        await time(
          group,
          () => group.powerCut(n),
          () => serving(group) === other(n),
        ),
      );
      group.startNode(n);
      await group.waitFor('both nodes online', () =>
        /Online: \[ node1 node2 \]/.test(group.run(other(n), ['crm_mon', '-1'])),
      );
    }
  } finally {
    await group.teardown();
  }
  const clone = new Cluster('clone');
  try {
    await clone.setUp(CONFIG);
    await clone.waitFor('both tables full', () => clone.table(1) === FULL && clone.table(2) === FULL);
    for (let i = 0; i < RUNS; i++) {
      const n = await settled(clone, true);
      const move = () => clone.run(n, ['crm_resource', '--resource', 'vip', '--move', '--node', `node${other(n)}`]);
      record('clone_move', await time(clone, move, () => serving(clone) === other(n)));
      clone.run(other(n), ['crm_resource', '--resource', 'vip', '--clear']);
      await sleep(2000);
      const m = await settled(clone, true);
      record(
        'clone_standby',
        await time(
          clone,
          () => clone.standby(m, true),
          () => serving(clone) === other(m),
        ),
      );
      clone.standby(m, false);
      await clone.waitFor('the clone back on both nodes', () => clone.table(1) === FULL && clone.table(2) === FULL);
      await sleep(2000);
    }
  } finally {
    await clone.teardown();
  }
  console.log('\nfault        runs  median s  max s');
  for (const [fault, xs] of Object.entries(results)) {
    const s = stats(xs);
    console.log(
      `${fault.padEnd(12)} ${String(xs.length).padStart(4)}  ${s.median.toFixed(2).padStart(8)}  ${s.max.toFixed(2).padStart(5)}`,
    );
  }
  console.log('(Corosync token timeout: 1 s; monitor interval: 2 s; machine and date: see README)');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
