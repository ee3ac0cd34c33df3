/**
 * The IPVS connection sync daemon (syncdaemon=, issue 20): the directive, ipvsadm's listing,
 * the commands that bring the kernel's threads in line, and the engine starting them with
 * the table, adopting what already runs, retrying what failed and stopping only its own.
 * The real kernel's behaviour is proven in test/vm/sync.test.ts.
 */
import assert from 'node:assert/strict';
import { dumpConfig } from '../../src/parser/dump';
import { ConfigError } from '../../src/parser/model';
import { parseSyncDaemon } from '../../src/parser/sync-daemon';
import { formatDaemonList, parseDaemonList, syncCommands, type SyncDaemon } from '../../src/reconcile/sync-daemon';
import { config } from '../helpers/config';
import { harness } from '../engine/harness';

const BLOCK = 'virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n';
const master = (i = 'eth1', syncid = 0): SyncDaemon => ({ state: 'master', interface: i, syncid });
const backup = (i = 'eth1', syncid = 0): SyncDaemon => ({ state: 'backup', interface: i, syncid });

describe('sync daemon: syncdaemon=', () => {
  it('reads STATE INTERFACE [SYNCID]', () => {
    assert.deepEqual(parseSyncDaemon('master eth1'), { states: ['master'], interface: 'eth1', syncid: 0 });
    assert.deepEqual(parseSyncDaemon('both bond0.100 42'), {
      states: ['master', 'backup'],
      interface: 'bond0.100',
      syncid: 42,
    });
    for (const bad of ['', 'master', 'primary eth1', 'both eth1 256', 'both eth1 1 2', 'both eth1 x'])
      assert.match(String(parseSyncDaemon(bad)), /^syncdaemon must be/, bad);
    assert.match(String(parseSyncDaemon('both eth1;reboot')), /invalid interface name/);
    assert.match(String(parseSyncDaemon('both averyveryverylongname')), /invalid interface name/);
    assert.equal(String(parseSyncDaemon('both e\x1b[2J')), 'syncdaemon: invalid interface name "e\\x1b[2J"');
  });

  it('is a global addition: an error at its line, absent from a Perl config dump, shown when used', async () => {
    await assert.rejects(config(`syncdaemon=sideways eth1\n${BLOCK}`), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.line, 1);
      assert.match(e.message, /syncdaemon must be "master", "backup" or "both"/);
      return true;
    });
    await assert.rejects(config(`${BLOCK}\tsyncdaemon=both eth1\n`), ConfigError, 'not in a virtual');
    assert.ok(!JSON.stringify(dumpConfig(await config(BLOCK))).includes('syncdaemon'));
    const used = dumpConfig(await config(`syncdaemon=both eth1 7\n${BLOCK}`)) as { global: Record<string, unknown> };
    assert.deepEqual(used.global.syncdaemon, { states: ['master', 'backup'], interface: 'eth1', syncid: 7 });
  });

  it("parses ipvsadm's listing, and writes it back the same", () => {
    const text = 'master sync daemon (mcast=eth1, syncid=5)\nbackup sync daemon (mcast=eth0, syncid=0)\n';
    assert.deepEqual(parseDaemonList(text), [master('eth1', 5), backup('eth0', 0)]);
    assert.equal(formatDaemonList(parseDaemonList(text)), text);
    // ipvsadm 1.31 (Debian 12) says more after the sync id.
    assert.deepEqual(
      parseDaemonList(
        'master sync daemon (mcast=eth0, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n' +
          'backup sync daemon (mcast=eth0, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n',
      ),
      [master('eth0', 7), backup('eth0', 7)],
    );
    assert.deepEqual(parseDaemonList(''), []);
    assert.deepEqual(parseDaemonList('garbage\n'), []);
  });

  it('brings the threads in line: keeps what matches, restarts what differs, stops only its own', () => {
    const all = new Set(['master', 'backup'] as const);
    assert.deepEqual(syncCommands([master()], [], new Set(['master'])), [
      ['--start-daemon', 'master', '--mcast-interface', 'eth1', '--syncid', '0'],
    ]);
    assert.deepEqual(syncCommands([master(), backup()], [master(), backup()], all), [], 'adopted as they run');
    assert.deepEqual(syncCommands([master('eth1', 3)], [master('eth1', 2)], new Set(['master'])), [
      ['--stop-daemon', 'master'],
      ['--start-daemon', 'master', '--mcast-interface', 'eth1', '--syncid', '3'],
    ]);
    assert.deepEqual(syncCommands([], [master(), backup()], all), [
      ['--stop-daemon', 'master'],
      ['--stop-daemon', 'backup'],
    ]);
    assert.deepEqual(
      syncCommands([master()], [master(), backup('eth9')], new Set(['master'])),
      [],
      "a backup thread the operator started is not this daemon's",
    );
  });
});

describe('sync daemon: in the engine', () => {
  const CFG = (line: string) => `checkinterval=10\n${line}\nvirtual=10.0.0.1:80\n\treal=127.0.0.2:8080 masq\n`;

  it('starts with the daemon, adopts on a restart, follows a reload, and stops with it', async () => {
    const h = await harness(CFG('syncdaemon=both eth1 9'), { servers: { '127.0.0.2': 'up' } });
    await h.engine.start(h.cfg);
    assert.deepEqual(h.ipvs.syncDaemons, [master('eth1', 9), backup('eth1', 9)]);
    assert.ok(h.logs.includes('Started IPVS sync daemon: master on eth1, syncid 9'));
    assert.deepEqual(h.engine.syncDaemons.view(), {
      threads: [
        { ...master('eth1', 9), running: true },
        { ...backup('eth1', 9), running: true },
      ],
      error: null,
    });

    // A second engine on the same kernel (the daemon restarted after a crash) keeps them.
    const again = await harness(CFG('syncdaemon=both eth1 9'), { servers: { '127.0.0.2': 'up' } });
    again.ipvs.syncDaemons = h.ipvs.syncDaemons;
    await again.engine.start(again.cfg);
    assert.ok(!again.ipvs.log.some((l) => l.includes('daemon')), 'no thread stopped or started');

    await h.engine.reload(async () => (await harness(CFG('syncdaemon=master eth1 9'))).cfg);
    assert.deepEqual(h.ipvs.syncDaemons, [master('eth1', 9)], 'the backup thread a reload drops is stopped');
    // Stopped, it is no longer this daemon's: one an operator starts by hand stays.
    h.ipvs.syncDaemons.push(backup('eth2', 3));
    await h.engine.reload(async () => (await harness(CFG('syncdaemon=master eth1 9'))).cfg);
    assert.deepEqual(h.ipvs.syncDaemons, [master('eth1', 9), backup('eth2', 3)]);
    h.ipvs.syncDaemons.pop();
    await h.engine.stop();
    assert.deepEqual(h.ipvs.syncDaemons, []);
    assert.ok(h.logs.includes('Stopped IPVS sync daemon: master'));
  });

  it('a failed start is logged with its argv and retried at the next resync', async () => {
    const h = await harness(CFG('syncdaemon=master eth1'), { servers: { '127.0.0.2': 'up' } });
    h.ipvs.failCommands = /--start-daemon/;
    await h.engine.start(h.cfg);
    assert.deepEqual(h.ipvs.syncDaemons, []);
    assert.ok(
      h.logs.some((l) => /--start-daemon master --mcast-interface eth1 --syncid 0 failed: .*\(will retry\)/.test(l)),
      h.logs.join('\n'),
    );
    assert.match(h.engine.syncDaemons.view()!.error!, /Invalid operation/);
    assert.deepEqual(h.engine.syncDaemons.view()!.threads, [{ ...master(), running: false }]);
    h.ipvs.failCommands = null;
    await h.tick(10_000);
    await h.tick(0);
    assert.deepEqual(h.ipvs.syncDaemons, [master()]);
    assert.equal(h.engine.syncDaemons.view()!.error, null);
  });

  it('a Perl config never reads or touches the sync threads', async () => {
    const h = await harness(CFG(''), { servers: { '127.0.0.2': 'up' } });
    h.ipvs.syncDaemons = [backup('eth0', 1)];
    await h.engine.start(h.cfg);
    await h.tick(30_000);
    await h.engine.stop();
    assert.deepEqual(h.ipvs.syncDaemons, [backup('eth0', 1)]);
    assert.equal(h.engine.syncDaemons.view(), null);
    assert.ok(!h.ipvs.log.some((l) => l.includes('daemon')));
  });
});
