/**
 * The periodic resync's shortcut (issue 19): when the kernel's own listing has not changed
 * since the last full read, the table is that read's, without forking ipvsadm. Against the
 * recording ipvsadm and a listing file the test writes (this machine's kernel has no IPVS;
 * the VM suite runs the real one).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ipvsadm } from '../../src/reconcile/ipvsadm';
import { withoutCounters } from '../../src/reconcile/proc-ip-vs';
import { FAKE } from '../helpers/env';

const LISTING = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  0A000001:0050 wrr
  -> 0A090101:1F90      Masq    1      0          0
`;

describe('reconcile: /proc/net/ip_vs as the resync shortcut', () => {
  let dir: string;
  let proc: string;
  let ipvs: Ipvsadm;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ld-proc-'));
    proc = join(dir, 'ip_vs');
    writeFileSync(proc, LISTING);
    const bin = spawnSync(process.execPath, [FAKE, '--install', join(dir, 'kernel')], {
      encoding: 'utf8',
    }).stdout.trim();
    ipvs = new Ipvsadm(bin, 5000, proc);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('drops the connection counters, keeps everything else', () => {
    const busy = LISTING.replace('1      0          0', '1      57         1200');
    assert.equal(withoutCounters(busy), withoutCounters(LISTING));
    assert.notEqual(withoutCounters(LISTING.replace('Masq    1', 'Masq    2')), withoutCounters(LISTING));
    assert.match(withoutCounters(LISTING), /^ {2}-> 0A090101:1F90 Masq 1$/m);
  });

  it('forks only when the listing changed, after a command, or with thresholds', async () => {
    await ipvs.run([['-A', '-t', '10.0.0.1:80', '-s', 'wrr']]);
    const first = await ipvs.read({ thresholds: false });
    const forks = ipvs.spawned;
    // Unchanged listing (counters moving): the same table, no fork.
    writeFileSync(proc, LISTING.replace('1      0          0', '1      9          3'));
    assert.equal(await ipvs.read({ thresholds: false }), first);
    assert.equal(ipvs.spawned, forks);
    // The listing changed (a hand edit): a full read.
    writeFileSync(proc, LISTING.replace('Masq    1', 'Masq    0'));
    await ipvs.read({ thresholds: false });
    assert.equal(ipvs.spawned, forks + 1);
    // A command of ours: the next read is full whatever the listing says.
    await ipvs.run([['-E', '-t', '10.0.0.1:80', '-s', 'rr']]);
    const afterRun = ipvs.spawned;
    const table = await ipvs.read({ thresholds: false });
    assert.equal(ipvs.spawned, afterRun + 1);
    assert.equal(table.get('tcp:10.0.0.1:80')?.scheduler, 'rr');
    // Thresholds are not in the listing: always read.
    await ipvs.read({ thresholds: true });
    assert.ok(ipvs.spawned > afterRun + 1);
  });

  it('without a listing (no IPVS, or LDIRECTORD_PROC_IP_VS=0) every read forks', async () => {
    const none = new Ipvsadm((ipvs as unknown as { name: string }).name, 5000, join(dir, 'missing'));
    await none.read({ thresholds: false });
    await none.read({ thresholds: false });
    assert.equal(none.spawned, 2);
  });
});
