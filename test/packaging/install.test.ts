/**
 * The package as an operator gets it (issue 20, item 4): `npm pack` ships the built daemon,
 * its page, man page, conf/ and docs, and nothing else; the tarball installs into an empty
 * prefix with `npm install -g --prefix`, and from there `ldirectord --version`, `--check` on
 * the operators' corpus (the same answers as the tree's build) and the demo run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Director } from '../helpers/director';
import { CLI, FIXTURES, ROOT } from '../helpers/env';

const SHIPPED = ['dist/', 'web/', 'conf/', 'man/', 'docs/', 'README.md', 'package.json'];

describe('packaging: npm pack and install', function () {
  this.timeout(600000);
  let d: Director;
  let tarball = '';
  before(() => (d = new Director()));
  after(() => d.cleanup());

  it('packs dist (built by prepack), web, man, conf, docs and the README, and nothing else', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    assert.equal(pkg.scripts.prepack, 'npm run build', 'a pack builds dist/ first');
    assert.deepEqual(pkg.man, ['man/ldirectord.8']);
    // The suite has just built dist/: pack it as it is (prepack would rebuild it under the running tests).
    const r = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', d.dir], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const [info] = JSON.parse(r.stdout) as [{ filename: string; files: { path: string }[] }];
    tarball = join(d.dir, info.filename);
    const files = info.files.map((f) => f.path);
    for (const f of files)
      assert.ok(
        SHIPPED.some((p) => f === p || f.startsWith(p)),
        `${f} is not shipped`,
      );
    for (const f of [
      'dist/cli.js',
      'dist/demo.js',
      'web/status.html',
      'man/ldirectord.8',
      'conf/ldirectord.service',
      'conf/ldirectord.logrotate',
      'conf/ldirectord.cf',
      'README.md',
    ])
      assert.ok(files.includes(f), `${f} is shipped`);
  });

  it('installs into an empty prefix; --version, --check on the corpus and the demo run from there', () => {
    assert.ok(tarball, 'packed');
    const prefix = join(d.dir, 'prefix');
    const inst = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tarball], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(inst.status, 0, inst.stderr);
    const bin = join(prefix, 'bin', 'ldirectord');
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, /^Linux Director v1\.186-ha\nldirectord \d+\.\d+\.\d+ /);
    assert.ok(existsSync(join(prefix, 'share', 'man', 'man8', 'ldirectord.8')), 'the man page is installed');

    const corpus = readdirSync(join(FIXTURES, 'corpus')).filter((f) => f.endsWith('.cf'));
    assert.ok(corpus.length >= 20);
    for (const f of corpus) {
      const file = join(FIXTURES, 'corpus', f);
      const installed = spawnSync(bin, ['--check', '--json', file], { encoding: 'utf8' });
      const tree = spawnSync(process.execPath, [CLI, '--check', '--json', file], { encoding: 'utf8' });
      assert.equal(installed.status, tree.status, f);
      assert.equal(installed.stdout, tree.stdout, f);
    }

    const demo = spawnSync(process.execPath, [join(prefix, 'lib', 'node_modules', 'ldirectord', 'dist', 'demo.js')], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, NO_COLOR: '1' },
    });
    assert.equal(demo.status, 0, demo.stderr);
    assert.match(demo.stdout, /== stopped \(cleanstop=yes\): the managed service is gone/);
  });
});
