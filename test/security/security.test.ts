/**
 * Security (issue 8, item 6): no shell anywhere, no way to inject options into ipvsadm
 * from the config, no secret in anything the daemon writes, pid file and status socket
 * not fooled by symlinks, warnings for world-writable files, metrics on loopback.
 */
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Director } from '../helpers/director';
import { ROOT } from '../helpers/env';
import { config } from '../helpers/config';
import { parseListen } from '../../src/daemon/listen';
import { ConfigError } from '../../src/parser/model';
import { plan } from '../../src/reconcile/plan';
import { diff } from '../../src/reconcile/diff';
import { opArgv } from '../../src/reconcile/ops';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (b) => (body += b));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('security', function () {
  this.timeout(60000);

  it('no shell anywhere in src: no exec/execSync/shell:true/sh -c, child_process only as execFile/spawn', () => {
    const bad: string[] = [];
    for (const f of sources(join(ROOT, 'src'))) {
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/^\s*(\*|\/\*|\/\/)/.test(line)) return; // comments
          const code = line.replace(/\/\/.*$/, '');
          const where = `${f.slice(ROOT.length + 1)}:${i + 1}: ${line.trim()}`;
          if (/(?<![.\w])exec(Sync)?\(/.test(code)) bad.push(where); // a bare exec(), not RegExp#exec
          if (/\bexecSync\b|\bspawnSync\b|\bexecFileSync\b/.test(code)) bad.push(where);
          if (/shell\s*:\s*true/.test(code)) bad.push(where);
          if (/['"](\/bin\/)?(ba)?sh['"]\s*,\s*\[\s*['"]-c['"]/.test(code)) bad.push(where);
          const imp = /import\s*\{([^}]*)\}\s*from\s*['"](node:)?child_process['"]/.exec(code);
          if (imp)
            for (const name of imp[1]!.split(',').map(
              (s) =>
                s
                  .trim()
                  .replace(/^type\s+/, '')
                  .split(/\s+as\s+/)[0]!,
            )) {
              if (
                ![
                  'execFile',
                  'spawn',
                  'ChildProcess',
                  'ChildProcessByStdio',
                  'SpawnOptions',
                  'ExecFileOptions',
                ].includes(name)
              )
                bad.push(`${where} (imports ${name})`);
            }
        });
    }
    assert.deepEqual(bad, []);
  });

  it('config values cannot inject options into ipvsadm', async () => {
    const attempts: Array<[string, RegExp | null]> = [
      ['\tscheduler=rr -C', null], // [a-z]+ takes "rr": the rest is ignored, as in the original
      ['\tschedflags=-C', /invalid sched-flags/],
      ['\tschedflags=sh-port;-C', /invalid sched-flags/],
      ['\tnetmask=255.255.255.0 -C', /dotted quad/],
      ['\tpersistent=300 -C', null],
      ['\treal=10.0.1.1:80 gate 5 -C', /Invalid real server line/],
      ['\treal=-C:80 gate', /could not resolve host|wrong format/],
      ['\tcheckport=80 -C', null],
    ];
    for (const [line, err] of attempts) {
      const text = `virtual=10.0.0.1:80\n\treal=10.0.1.9:80 gate\n\tchecktype=on\n${line}\n`;
      let cfg;
      try {
        cfg = await config(text);
      } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        assert.ok(err && err.test(e.message), `${line}: ${e.message}`);
        continue;
      }
      assert.equal(err, null, `${line} should have been refused`);
      const desired = plan(cfg.virtuals, () => ({ state: 'up', placed: true }), { readdquiescent: false });
      for (const argv of diff(desired, new Map()).map(opArgv)) {
        assert.ok(!argv.includes('-C'), `${line}: ${argv.join(' ')}`);
        for (const t of argv) assert.match(t, /^(-[A-Za-z6]|[0-9A-Za-z.:[\],-]+)$/, `${line}: token ${t}`);
      }
    }
  });

  describe('with a running daemon', () => {
    let d: Director;
    const SECRETS = ['S3cretPassw0rd!', 'monitoruser42', 'radiusSharedSecret9'];
    let metricsPort = 0;
    before(async () => {
      d = new Director();
      await d.listen('127.50.4.2', 8080);
      d.config(`
checkinterval=1
checktimeout=1
negotiatetimeout=1
virtual=10.0.0.1:3306
	real=127.50.4.3:3306 masq
	service=mysql
	login="${SECRETS[1]}"
	passwd="${SECRETS[0]}"
	database="db"
	request="SELECT 1"
	monitorfile="${join(d.dir, 'monitor.log')}"
virtual=10.0.0.2:1812
	real=127.50.4.4:1812 masq
	protocol=udp
	service=radius
	secret="${SECRETS[2]}"
	login="${SECRETS[1]}"
	passwd="${SECRETS[0]}"
	monitorfile="${join(d.dir, 'monitor.log')}"
virtual=10.0.0.3:80
	real=127.50.4.2:8080 masq
	checktype=connect
`);
      chmodSync(d.cfg, 0o666);
      metricsPort = await freePort();
      const r = await d.cli(['--metrics', `127.0.0.1:${metricsPort}`, d.cfg, 'start']);
      assert.equal(r.code, 0, r.stderr);
      await d.waitFor('checks done', () => readFileSync(join(d.dir, 'monitor.log'), 'utf8').split('\n').length > 4);
    });
    after(() => d.cleanup());

    it('passwd, secret and login never appear in the log, monitorfile, status, metrics, dry-run or errors', async () => {
      // A mistyped secret line (unquoted) in another file: the error names the line, not the value.
      const bad = join(d.dir, 'bad.cf');
      writeFileSync(
        bad,
        `virtual=10.0.0.1:3306\n\treal=127.50.4.3:3306 masq\n\tservice=mysql\n\tpasswd=${SECRETS[0]}\n\tlogin=${SECRETS[1]}\n`,
      );
      const refused = await d.cli(['--check', bad]);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /at line 4/);
      const metrics = await scrape(metricsPort);
      assert.match(metrics, /127\.50\.4\.3/, 'the metrics name the real (so the scrape saw the daemon)');
      const outputs = [
        refused.stdout + refused.stderr,
        metrics,
        d.logText(),
        readFileSync(join(d.dir, 'monitor.log'), 'utf8'),
        (await d.cli([d.cfg, 'status', '-v'])).stdout,
        (await d.cli([d.cfg, 'show', '--json'])).stdout,
        JSON.stringify(await d.cli(['--dry-run', d.cfg])),
        JSON.stringify(await d.cli(['--dry-run', '--json', d.cfg])),
      ];
      for (const out of outputs) for (const s of SECRETS) assert.ok(!out.includes(s), `a secret leaked:\n${out}`);
      assert.match(
        d.logText(),
        /Real server down: 127\.50\.4\.3:3306/,
        'the failures were logged (so the test saw them)',
      );
    });

    it('warns about a world-writable config file', () => {
      assert.match(d.logText(), /configuration file .* is world-writable/);
    });

    it('the status socket is 0600 and the pid file a plain 0644 file', () => {
      const sock = lstatSync(join(d.runDir, `ldirectord.${d.name}.sock`));
      assert.ok(sock.isSocket());
      assert.equal(sock.mode & 0o777, 0o600);
      const pid = lstatSync(join(d.runDir, `ldirectord.${d.name}.pid`));
      assert.ok(pid.isFile());
      assert.equal(pid.mode & 0o777, 0o644);
    });
  });

  it('pid file and status socket replace a planted symlink instead of following it', async () => {
    const d = new Director();
    try {
      await d.listen('127.50.4.5', 8080);
      d.config('virtual=10.0.0.1:80\n\treal=127.50.4.5:8080 masq\n\tchecktype=connect\n');
      const victim = join(d.dir, 'victim');
      writeFileSync(victim, 'precious\n');
      symlinkSync(victim, join(d.runDir, `ldirectord.${d.name}.pid`));
      symlinkSync(victim, join(d.runDir, `ldirectord.${d.name}.sock`));
      assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
      assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
      assert.ok(lstatSync(join(d.runDir, `ldirectord.${d.name}.pid`)).isFile());
      assert.ok(statSync(join(d.runDir, `ldirectord.${d.name}.sock`)).isSocket());
    } finally {
      await d.cleanup();
    }
  });

  it('the metrics endpoint binds to loopback unless an address is given', () => {
    assert.deepEqual(parseListen('9110'), { host: '127.0.0.1', port: 9110 });
    assert.deepEqual(parseListen(':9110'), { host: '127.0.0.1', port: 9110 });
    assert.deepEqual(parseListen('0.0.0.0:9110'), { host: '0.0.0.0', port: 9110 });
    assert.deepEqual(parseListen('[::1]:9110'), { host: '::1', port: 9110 });
    assert.throws(() => parseListen('nope'));
  });
});
