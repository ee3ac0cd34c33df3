/**
 * Failover in a real two-node Pacemaker/Corosync cluster (issue 20, item 1), with Debian's
 * IPaddr2 for the VIP and the unchanged ocf:heartbeat:ldirectord running this daemon
 * (cluster.ts draws the setup). Every step asserts both nodes' kernel tables (their
 * stand-ins) and which node holds the VIP.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CLI, requirePart } from '../helpers/env';
import { Cluster, missingCluster, REALS, VIP } from './cluster';

const CONFIG = (weights: [number, number, number]) => `
checkinterval=1
checktimeout=1
quiescent=no
virtual=${VIP}:80
${REALS.map((a, i) => `\treal=${a}:8080 masq ${weights[i]}`).join('\n')}
	checktype=connect
`;
const TABLE = (weights: [number, number, number]) =>
  `-A -t ${VIP}:80 -s wrr\n` + REALS.map((a, i) => `-a -t ${VIP}:80 -r ${a}:8080 -m -w ${weights[i]}\n`).join('');
const FULL = TABLE([1, 2, 3]);
const other = (n: number) => (n === 1 ? 2 : 1);

describe('cluster: a group (VIP, then ldirectord) on two Pacemaker nodes', function () {
  this.timeout(180_000);
  let c: Cluster;
  before(async function () {
    requirePart(this, missingCluster());
    c = new Cluster('group');
    await c.setUp(CONFIG([1, 2, 3]));
  });
  after(async () => c?.teardown());

  /**
   * The node that holds the VIP and `table` while the other holds neither, and Pacemaker
   * agrees (node `on` when given): each step starts from, and ends in, such a state.
   */
  async function settledOn(what: string, on: number | null = null, table = FULL): Promise<number> {
    return c.waitFor(what, () => {
      const n = c.vipOn();
      if (!n || (on !== null && n !== on)) return false;
      const placed = c.table(n) === table && c.table(other(n)) === '' && c.where('ld') === `node${n}`;
      return placed && c.idle() ? n : false;
    });
  }

  it('start: the active node holds the VIP and the full table, the other neither', async () => {
    const n = await settledOn('the group started on one node');
    assert.equal(c.where('vip'), `node${n}`);
  });

  it('standby of the active node: VIP and table move; the old node’s table is purged', async () => {
    const was = await settledOn('the group on one node');
    c.standby(was, true);
    const now = await settledOn('the group on the other node', other(was));
    assert.equal(c.table(was), '', 'purged on the node put in standby');
    c.standby(was, false);
    await c.waitFor('the old node online again', () => /Online: \[ node1 node2 \]/.test(c.run(now, ['crm_mon', '-1'])));
    assert.equal(c.vipOn(), now, 'stickiness: nothing moves back');
  });

  it('ldirectord killed with SIGKILL: restarted in place, no failover, no live real touched', async () => {
    const n = await settledOn('the group on one node');
    const pid = c.daemonPid(n);
    assert.ok(pid, 'the daemon runs on the active node');
    const before = c.commands(n).length;
    process.kill(pid, 'SIGKILL');
    await c.waitFor('a new daemon', () => {
      const p = c.daemonPid(n);
      return p && p !== pid && c.run(n, ['crm_mon', '-1']).includes('Started node') ? p : false;
    });
    await c.waitFor('the monitor clean again', () => c.where('ld') === `node${n}` && c.table(n) === FULL);
    assert.equal(c.vipOn(), n, 'no failover');
    const since = c.commands(n).slice(before);
    assert.deepEqual(
      since.filter((cmd) => /^-[de] /.test(cmd) || / -w 0\b/.test(cmd)),
      [],
      `no real deleted or quiesced: ${since.join('; ')}`,
    );
  });

  it('a config change copied to both nodes and reloaded: both agree', async () => {
    const n = await settledOn('the group on one node');
    for (const m of [1, 2]) c.writeConfig(m, CONFIG([1, 2, 5]));
    c.run(n, [process.execPath, CLI, join(c.dir, 'ha.d', 'ldirectord.cf'), 'reload']);
    await c.waitFor('the new weight on the active node', () => c.table(n) === TABLE([1, 2, 5]));
    c.standby(n, true);
    await settledOn('the other node with the same table', other(n), TABLE([1, 2, 5]));
    c.standby(n, false);
    await c.waitFor('both nodes online', () => /Online: \[ node1 node2 \]/.test(c.run(other(n), ['crm_mon', '-1'])));
  });

  it('power cut of the active node (corosync and pacemakerd killed): the survivor takes over', async () => {
    const n = await settledOn('the group on one node', null, TABLE([1, 2, 5]));
    c.powerCut(n);
    await c.waitFor('the survivor with the VIP and the table', () => {
      const m = c.vipOn();
      return m === other(n) && c.table(m) === TABLE([1, 2, 5]);
    });
    // The node comes back: it rejoins and takes nothing back.
    c.startNode(n);
    await c.waitFor('both nodes online', () => /Online: \[ node1 node2 \]/.test(c.run(other(n), ['crm_mon', '-1'])));
    assert.equal(c.vipOn(), other(n));
    assert.equal(c.table(n), '');
  });
});

describe('cluster: ldirectord cloned on both nodes, only the VIP moving', function () {
  this.timeout(180_000);
  let c: Cluster;
  before(async function () {
    requirePart(this, missingCluster());
    c = new Cluster('clone');
    await c.setUp(CONFIG([1, 2, 3]));
  });
  after(async () => c?.teardown());

  it('both nodes keep the table; moving the VIP moves nothing else', async () => {
    const n = await c.waitFor('the VIP up and both tables full', () => {
      const v = c.vipOn();
      return v && c.table(1) === FULL && c.table(2) === FULL ? v : false;
    });
    const commands = [c.commands(1).length, c.commands(2).length];
    c.run(n, ['crm_resource', '--resource', 'vip', '--move', '--node', `node${other(n)}`]);
    await c.waitFor('the VIP on the other node', () => c.vipOn() === other(n));
    assert.equal(c.table(1), FULL);
    assert.equal(c.table(2), FULL);
    assert.deepEqual([c.commands(1).length, c.commands(2).length], commands, 'no ipvsadm command on either node');
    c.run(other(n), ['crm_resource', '--resource', 'vip', '--clear']);
  });
});
