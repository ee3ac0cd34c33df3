/**
 * A real two-node Pacemaker/Corosync cluster on one machine, for `npm run test:cluster`
 * (issue 20). No systemd, nothing of the host's own cluster state is touched:
 *
 *   host (this process)                      bridge ldkbr 10.77.0.254/24
 *   real servers 10.77.0.101-103:8080 ───────┬───────────────────────────┐
 *                                      veth  │                     veth  │
 *                     ┌──────────────────────┴─────┐   ┌─────────────────┴──────────┐
 *                     │ netns ldk1, eth0 10.77.0.1 │   │ netns ldk2, eth0 10.77.0.2 │
 *                     │ own mount + UTS ns: node1  │   │ own mount + UTS ns: node2  │
 *                     │ corosync (knet), pacemakerd│   │ corosync, pacemakerd       │
 *                     │ IPaddr2: VIP 10.77.0.50    │   │                            │
 *                     │ ocf:heartbeat:ldirectord → │   │                            │
 *                     │ this daemon, its table in  │   │                            │
 *                     │ a stand-in per node        │   │                            │
 *                     └────────────────────────────┘   └────────────────────────────┘
 *
 * Each node is test/cluster/node.sh in its own network, mount and UTS namespaces, with tmpfs
 * over what Corosync and Pacemaker keep. The CIB is seeded offline (stonith off, no-quorum
 * ignore, a short dc-deadtime). The host has no IPVS, so each node's kernel table is the
 * recording ipvsadm stand-in (src/testing/fake-ipvsadm.ts), bound over /usr/sbin/ipvsadm in
 * that node only: a bash wrapper served by this process over the bridge, so that a table
 * change costs milliseconds as with the real ipvsadm, not a Node start-up. The unchanged
 * OCF agent runs this daemon (its `ldirectord` parameter).
 * teardown() kills every process of both namespaces and removes them, the bridge and the
 * folder, whatever state a failed step left.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { formatSave, parseSave } from '../../src/reconcile/ipvsadm-save';
import { serveFake } from '../../src/testing/fake-ipvsadm';
import { recordedCommands } from '../helpers/director';
import { CLI, FAKE, ROOT } from '../helpers/env';
import { waitUntil } from '../helpers/wait';

export const VIP = '10.77.0.50';
export const REALS = ['10.77.0.101', '10.77.0.102', '10.77.0.103'];
const BRIDGE = 'ldkbr';
/** The host's address on the bridge, where the nodes' ipvsadm stand-ins are served. */
const HOST = '10.77.0.254';
const STAND_IN_PORT = 19_901;
const NODE_SH = join(ROOT, 'test', 'cluster', 'node.sh');

export type Mode = 'group' | 'clone';

const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the cluster tests need on the machine, or why they cannot run. */
export function missingCluster(): string | null {
  for (const p of ['/usr/sbin/corosync', '/usr/sbin/pacemakerd', '/usr/sbin/crm_resource', '/usr/sbin/ipvsadm']) {
    if (!existsSync(p)) return `${p} is missing (apt-get install corosync pacemaker ipvsadm)`;
  }
  if (!existsSync('/usr/lib/ocf/resource.d/heartbeat/ldirectord')) return 'resource-agents is not installed';
  if (process.getuid?.() !== 0) return 'the cluster test needs root (namespaces, mounts)';
  return null;
}

export class Cluster {
  readonly dir = mkdtempSync('/tmp/ldcluster-');
  private readonly servers: Server[] = [];
  /** The kernel tables' stand-in, served from this process (fake-ipvsadm.ts serveFake). */
  private standIn: Server | null = null;

  constructor(readonly mode: Mode) {}

  ns(n: number): string {
    return `ldk${n}`;
  }

  /** Network, files, real servers, both nodes; resolves once the VIP and a full table are up. */
  async setUp(config: string): Promise<void> {
    this.teardownNetwork();
    sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
    sh('ip', ['addr', 'add', `${HOST}/24`, 'dev', BRIDGE]);
    for (const a of REALS) sh('ip', ['addr', 'add', `${a}/24`, 'dev', BRIDGE]);
    sh('ip', ['link', 'set', BRIDGE, 'up']);
    this.standIn = await serveFake(HOST, STAND_IN_PORT);
    for (const a of REALS) await this.real(a);
    writeFileSync(join(this.dir, 'corosync.conf'), COROSYNC);
    writeFileSync(join(this.dir, 'cib.xml'), cib(this.mode, join(this.dir, 'ha.d', 'ldirectord.cf')));
    mkdirSync(join(this.dir, 'ha.d'));
    for (const n of [1, 2]) {
      const ns = this.ns(n);
      sh('ip', ['netns', 'add', ns]);
      sh('ip', ['link', 'add', ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      sh('ip', ['link', 'set', ns, 'master', BRIDGE, 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', `10.77.0.${n}/24`, 'dev', 'eth0']);
      sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      mkdirSync(join(this.dir, `n${n}`, 'ha.d'), { recursive: true });
      sh(process.execPath, [FAKE, '--install', join(this.dir, `n${n}`), '--server', `${HOST}:${STAND_IN_PORT}`]);
      this.writeConfig(n, config);
      this.startNode(n);
    }
  }

  /** The config file as node `n` sees it (each node has its own copy, as on real directors). */
  writeConfig(n: number, text: string): void {
    const log = join(this.dir, 'ha.d', 'ldirectord.log');
    writeFileSync(join(this.dir, `n${n}`, 'ha.d', 'ldirectord.cf'), `logfile="${log}"\n${text.replace(/^\n/, '')}`);
  }

  startNode(n: number): void {
    sh('ip', ['link', 'set', this.ns(n), 'up']);
    const c = spawn(
      'ip',
      ['netns', 'exec', this.ns(n), 'unshare', '--mount', '--uts', '--propagation', 'private'].concat([
        'bash',
        NODE_SH,
        String(n),
        this.dir,
      ]),
      { stdio: 'ignore', detached: true },
    );
    c.on('error', () => undefined);
    c.unref();
  }

  /** Every process in node `n`'s network namespace. */
  pids(n: number): number[] {
    try {
      return sh('ip', ['netns', 'pids', this.ns(n)])
        .split('\n')
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  }

  private comm(pid: number): string {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      return '';
    }
  }

  /** Node `n`'s ldirectord (started by the agent), or null. */
  daemonPid(n: number): number | null {
    return this.pids(n).find((p) => this.comm(p).includes(`${CLI} `) && / start\b/.test(this.comm(p))) ?? null;
  }

  /** Run a command inside node `n` (its network, mount and UTS namespaces). */
  run(n: number, argv: string[]): string {
    const pm = this.pids(n).find((p) => /(^|\/)pacemakerd /.test(this.comm(p) + ' '));
    if (!pm) throw new Error(`node${n} has no pacemakerd`);
    return sh('nsenter', ['-t', String(pm), '-m', '-u', '-n', ...argv]);
  }

  /**
   * No resource agent is starting or stopping anything on either node. Pacemaker reports a
   * resource on its node while its start is still running (a pending operation), so a step
   * that begins before this would hit a start in progress (and a SIGKILL then is a failed
   * start, which moves the group, not the crash the step means).
   */
  idle(): boolean {
    return [1, 2].every((n) =>
      this.pids(n).every((p) => !/resource\.d\/heartbeat\/\S+ (start|stop)\b/.test(this.comm(p))),
    );
  }

  /** Where Pacemaker runs a resource: `node1`, `node2`, or null. */
  where(resource: string): string | null {
    for (const n of [1, 2]) {
      try {
        const out = this.run(n, ['crm_resource', '--locate', '--resource', resource]);
        const m = /is running on: (node\d)/.exec(out);
        return m ? m[1]! : null;
      } catch {
        // that node is down: ask the other
      }
    }
    return null;
  }

  /** Put node `n` in standby (true) or back online. */
  standby(n: number, on: boolean): void {
    const live = [1, 2].find((m) => this.pids(m).length) ?? n;
    this.run(live, ['crm_attribute', '--node', `node${n}`, '--name', 'standby', '--update', on ? 'on' : 'off']);
  }

  /** The node holding the VIP (by its interface), or null. */
  vipOn(): number | null {
    for (const n of [1, 2]) {
      try {
        if (sh('ip', ['-n', this.ns(n), '-4', 'addr', 'show', 'dev', 'eth0']).includes(`inet ${VIP}/`)) return n;
      } catch {
        // no such namespace any more
      }
    }
    return null;
  }

  /**
   * Node `n`'s kernel table (its stand-in), as `ipvsadm -S -n` prints it. Read from the
   * stand-in's state file rather than by running it (a Node process, 0.1-0.3 s here), so
   * that polling it does not add its own delay to the failover figures.
   */
  table(n: number): string {
    const f = join(this.dir, `n${n}`, 'state.json');
    if (!existsSync(f)) return '';
    try {
      return formatSave(parseSave((JSON.parse(readFileSync(f, 'utf8')) as { save: string }).save).table);
    } catch {
      return ''; // replaced between the check and the read: the next poll sees it
    }
  }

  /** The changing ipvsadm commands node `n`'s daemons ran, oldest first. */
  commands(n: number): string[] {
    return recordedCommands(join(this.dir, `n${n}`, 'ipvsadm.log'));
  }

  log(n: number): string {
    const f = join(this.dir, `n${n}`, 'ha.d', 'ldirectord.log');
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  }

  /**
   * Power cut: every process of node `n` killed at once, its cable pulled (the host end of
   * its link down), and what a reboot forgets gone: its kernel table and the VIP on its
   * interface. startNode() plugs it in again.
   */
  powerCut(n: number): void {
    for (const p of this.pids(n)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    try {
      sh('ip', ['link', 'set', this.ns(n), 'down']);
      sh('ip', ['-n', this.ns(n), 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']);
    } catch {
      // not configured there (or no namespace any more)
    }
    const state = join(this.dir, `n${n}`, 'state.json');
    if (existsSync(state)) unlinkSync(state);
  }

  waitFor<T>(what: string, fn: () => T | false | null | undefined, timeoutMs = 90_000): Promise<T> {
    return waitUntil(what, fn, timeoutMs, () => this.report());
  }

  /** What a failure message needs: who holds what, both tables, the tails of both logs. */
  report(): string {
    const out: string[] = [`VIP on node${this.vipOn()}`];
    for (const n of [1, 2]) {
      let mon = '';
      try {
        mon = this.run(n, ['crm_mon', '-1']);
      } catch (e) {
        mon = String(e);
      }
      out.push(
        `--- node${n} table:\n${this.table(n)}--- crm_mon:\n${mon}--- log:\n${this.log(n).split('\n').slice(-15).join('\n')}`,
      );
    }
    return out.join('\n');
  }

  private async real(address: string): Promise<void> {
    const s = createServer((c) => c.end());
    await new Promise<void>((r) => s.listen(8080, address, r));
    this.servers.push(s);
  }

  /** Stop a real server (its checks fail from both nodes) or start it again. */
  async setReal(address: string, up: boolean): Promise<void> {
    const i = REALS.indexOf(address);
    if (up) {
      const s = createServer((c) => c.end());
      await new Promise<void>((r) => s.listen(8080, address, r));
      this.servers[i] = s;
    } else await new Promise((r) => this.servers[i]!.close(r));
  }

  async teardown(): Promise<void> {
    for (const n of [1, 2]) this.powerCut(n);
    await sleep(300);
    this.teardownNetwork();
    for (const s of this.servers) s.close();
    this.standIn?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private teardownNetwork(): void {
    for (const n of [1, 2]) {
      for (const p of this.pids(n)) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
      if (existsSync('/run/netns') && readdirSync('/run/netns').includes(this.ns(n))) {
        try {
          sh('ip', ['netns', 'del', this.ns(n)]);
        } catch {
          // busy for a moment after the kill: the next run removes it
        }
      }
    }
    try {
      sh('ip', ['link', 'del', BRIDGE]);
    } catch {
      // not there
    }
  }
}

const COROSYNC = `totem {
  version: 2
  cluster_name: ldtest
  transport: knet
  crypto_cipher: none
  crypto_hash: none
  token: 1000
}
nodelist {
  node {
    ring0_addr: 10.77.0.1
    name: node1
    nodeid: 1
  }
  node {
    ring0_addr: 10.77.0.2
    name: node2
    nodeid: 2
  }
}
quorum {
  provider: corosync_votequorum
  two_node: 1
}
logging {
  to_stderr: yes
  to_syslog: no
}
`;

/** The CIB, seeded before the cluster starts: the VIP and this daemon, grouped or cloned. */
function cib(mode: Mode, configfile: string): string {
  const ld = `<primitive id="ld" class="ocf" provider="heartbeat" type="ldirectord">
          <instance_attributes id="ld-ia">
            <nvpair id="ld-cf" name="configfile" value="${configfile}"/>
            <nvpair id="ld-bin" name="ldirectord" value="${CLI}"/>
          </instance_attributes>
          <operations>
            <op id="ld-mon" name="monitor" interval="2s" timeout="30s"/>
            <op id="ld-start" name="start" interval="0" timeout="90s"/>
            <op id="ld-stop" name="stop" interval="0" timeout="60s"/>
          </operations>
        </primitive>`;
  const vip = `<primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2">
          <instance_attributes id="vip-ia">
            <nvpair id="vip-ip" name="ip" value="${VIP}"/>
            <nvpair id="vip-mask" name="cidr_netmask" value="24"/>
            <nvpair id="vip-nic" name="nic" value="eth0"/>
          </instance_attributes>
          <operations>
            <op id="vip-mon" name="monitor" interval="2s" timeout="20s"/>
          </operations>
        </primitive>`;
  const resources =
    mode === 'group' ? `<group id="lvs">${vip}${ld}</group>` : `${vip}<clone id="ld-clone">${ld}</clone>`;
  const constraints =
    mode === 'group'
      ? ''
      : `<rsc_colocation id="vip-with-ld" rsc="vip" with-rsc="ld-clone" score="INFINITY"/>
         <rsc_order id="ld-then-vip" first="ld-clone" then="vip" kind="Optional"/>`;
  return `<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="opt-stonith" name="stonith-enabled" value="false"/>
        <nvpair id="opt-quorum" name="no-quorum-policy" value="ignore"/>
        <nvpair id="opt-deadtime" name="dc-deadtime" value="5s"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources>${resources}</resources>
    <constraints>${constraints}</constraints>
    <rsc_defaults>
      <meta_attributes id="rsc-options">
        <nvpair id="rsc-stick" name="resource-stickiness" value="100"/>
        <nvpair id="rsc-fail" name="migration-threshold" value="3"/>
      </meta_attributes>
    </rsc_defaults>
  </configuration>
  <status/>
</cib>
`;
}
