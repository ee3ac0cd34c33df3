/** The command line grammar (reference/cli.md, spec §1.1-1.2). */
import assert from 'node:assert/strict';
import { parseArgs, cfgName } from '../../src/cli/args';

describe('cli args', () => {
  const kind = (a: string[]) => parseArgs(a).kind;
  it('[CONFIG] COMMAND, the original forms', () => {
    const a = parseArgs(['/etc/ha.d/web.cf', 'start']);
    assert.equal(a.kind, 'daemon');
    assert.deepEqual(a.kind === 'daemon' && [a.command, a.config, a.cfgname], ['start', '/etc/ha.d/web.cf', 'web.cf']);
    const b = parseArgs(['status']);
    assert.deepEqual(b.kind === 'daemon' && [b.config, b.cfgname], ['ldirectord.cf', 'ldirectord']);
    for (const c of ['start', 'stop', 'restart', 'try-restart', 'reload', 'force-reload', 'status'])
      assert.equal(kind([c]), 'daemon');
  });
  it('usage errors (exit 255 in the CLI)', () => {
    assert.equal(kind([]), 'usage');
    assert.equal(kind(['ldirectord.cf']), 'usage', 'a config without command');
    assert.equal(kind(['x.cf', 'frob']), 'usage');
    assert.equal(kind(['--nope', 'start']), 'usage');
    assert.equal(kind(['-q', 'start']), 'usage');
  });
  it('-h, -v, -d and bundling', () => {
    assert.equal(kind(['-h']), 'help');
    assert.equal(kind(['-?']), 'help');
    assert.equal(kind(['-v']), 'version');
    const d = parseArgs(['-d', 'x.cf', 'start']);
    assert.ok(d.kind === 'daemon' && d.opts.debug);
    assert.equal(kind(['-dt', 'x.cf']), 'check');
  });
  it('--check, --json, --dry-run, --ipvsadm', () => {
    const c = parseArgs(['-t', '--json', 'x.cf']);
    assert.ok(c.kind === 'check' && c.opts.json && c.config === 'x.cf');
    const r = parseArgs(['--dry-run', '--ipvsadm', '/tmp/i', 'x.cf']);
    assert.ok(r.kind === 'dry-run' && r.opts.ipvsadm === '/tmp/i');
    const s = parseArgs(['-d', '--dry-run', 'x.cf', 'start']);
    assert.ok(s.kind === 'daemon' && s.opts.dryRun && s.opts.debug);
    assert.equal(kind(['--check', 'a.cf', 'b.cf']), 'usage');
  });
  it('status -v / show, logs options', () => {
    assert.equal(kind(['x.cf', 'status', '-v']), 'show');
    assert.equal(kind(['x.cf', 'show']), 'show');
    const l = parseArgs(['x.cf', 'logs', '-f', '-n', '50', '--virtual', '10.0.0.1:80']);
    assert.ok(l.kind === 'logs' && l.logs.follow && l.logs.lines === 50 && l.logs.virtual === '10.0.0.1:80');
  });
  it('cfgname: the basename when CONFIG is given', () => {
    assert.equal(cfgName('/etc/ldirectord.cf', true), 'ldirectord.cf');
    assert.equal(cfgName('ldirectord.cf', false), 'ldirectord');
  });
});
