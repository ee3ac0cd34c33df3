/**
 * The cluster glue works unchanged (issue 4, item 8):
 *  - Debian's OCF agent `ocf:heartbeat:ldirectord` (resource-agents package), pointed at
 *    this binary with its `ldirectord` parameter, starts, monitors and stops the daemon
 *    with the right OCF return codes;
 *  - heartbeat v1's haresources form `ldirectord::name.cf` runs `<binary> name.cf start`,
 *    which finds /etc/ha.d/name.cf.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { Director } from '../helpers/director';
import { CLI, requirePart } from '../helpers/env';

const RA = '/usr/lib/ocf/resource.d/heartbeat/ldirectord';
const OCF = { SUCCESS: 0, ERR_GENERIC: 1, NOT_RUNNING: 7 };

function ra(d: Director, action: string, cfg = d.cfg): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(RA, [action], {
      env: {
        ...d.env,
        OCF_ROOT: '/usr/lib/ocf',
        OCF_RESKEY_configfile: cfg,
        OCF_RESKEY_ldirectord: CLI,
        OCF_RESOURCE_INSTANCE: 'lvs',
        PATH: process.env.PATH,
      },
    });
    let out = '';
    c.stdout.on('data', (b) => (out += b));
    c.stderr.on('data', (b) => (out += b));
    c.on('close', (code) => resolve({ code, out }));
  });
}

const config = `
checkinterval=1
checktimeout=1
virtual=10.0.0.1:80
	real=127.50.2.2:8080 masq
	checktype=connect
`;

describe('cluster glue', function () {
  this.timeout(90000);
  let d: Director;
  beforeEach(async () => {
    d = new Director();
    await d.listen('127.50.2.2', 8080);
  });
  afterEach(() => d.cleanup());

  it('OCF agent: start, monitor, stop, monitor, with OCF codes', async function () {
    requirePart(this, existsSync(RA) ? null : `${RA} is missing (apt-get install resource-agents)`);
    d.config(config);
    let r = await ra(d, 'monitor');
    assert.equal(r.code, OCF.NOT_RUNNING, r.out);
    r = await ra(d, 'start');
    assert.equal(r.code, OCF.SUCCESS, r.out);
    await d.waitTable('-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.2.2:8080 -m -w 1\n');
    r = await ra(d, 'monitor');
    assert.equal(r.code, OCF.SUCCESS, r.out);
    r = await ra(d, 'start');
    assert.equal(r.code, OCF.SUCCESS, 'start when running is a success');
    r = await ra(d, 'stop');
    assert.equal(r.code, OCF.SUCCESS, r.out);
    assert.equal(d.table(), '', 'stop waited for cleanstop');
    r = await ra(d, 'monitor');
    assert.equal(r.code, OCF.NOT_RUNNING, r.out);
    r = await ra(d, 'stop');
    assert.equal(r.code, OCF.SUCCESS, 'stop when stopped is a success');
  });

  it('OCF agent: a broken config fails start with OCF_ERR_GENERIC and starts nothing', async function () {
    requirePart(this, existsSync(RA) ? null : `${RA} is missing (apt-get install resource-agents)`);
    d.config(config + '\tscheduler=WRR\n');
    const r = await ra(d, 'start');
    assert.equal(r.code, OCF.ERR_GENERIC, r.out);
    assert.equal(d.pid(), null);
    assert.equal(d.table(), '');
  });

  it('heartbeat haresources: `<binary> name.cf start` finds /etc/ha.d/name.cf', async function () {
    const name = `ldtest-${process.pid}-${Date.now()}.cf`;
    const path = `/etc/ha.d/${name}`;
    requirePart(
      this,
      existsSync('/etc/ha.d') && process.getuid?.() === 0
        ? null
        : '/etc/ha.d is not writable here (needs root and the ldirectord package layout)',
    );
    writeFileSync(path, `logfile="${d.log}"\n` + config.replace(/^\n/, ''));
    try {
      let r = await d.cli([name, 'start']);
      assert.equal(r.code, 0, r.stderr);
      await d.waitTable('-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.2.2:8080 -m -w 1\n');
      r = await d.cli([name, 'status']);
      assert.equal(r.code, 0);
      assert.match(r.stderr, new RegExp(`ldirectord for ${path.replace(/\./g, '\\.')} is running with pid: \\d+`));
      r = await d.cli([name, 'reload']);
      assert.equal(r.code, 0);
      r = await d.cli([name, 'stop']);
      assert.equal(r.code, 0);
      assert.equal(d.table(), '');
    } finally {
      rmSync(path, { force: true });
    }
  });
});
