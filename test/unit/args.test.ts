/** The command line grammar (reference/cli.md, spec §1.1-1.2). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, cfgName } from '../../src/cli/args';
import { spawnSync } from 'node:child_process';
import { CLI } from '../helpers/env';

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
  it('CONFIG drain REAL [--virtual V] [--timeout S], CONFIG undrain REAL [--virtual V]', () => {
    const a = parseArgs(['web.cf', 'drain', '10.0.1.2:80', '--timeout', '60', '--virtual', '10.0.0.1:80']);
    assert.deepEqual(a.kind === 'drain' && [a.undo, a.cfgname, a.drain], [
      false,
      'web.cf',
      { real: '10.0.1.2:80', virtual: '10.0.0.1:80', timeout: 60 },
    ]);
    const b = parseArgs(['web.cf', 'undrain', '10.0.1.2']);
    assert.deepEqual(b.kind === 'drain' && [b.undo, b.drain], [
      true,
      { real: '10.0.1.2', virtual: null, timeout: null },
    ]);
    for (const bad of [
      ['web.cf', 'drain'],
      ['web.cf', 'drain', '10.0.1.2', '10.0.1.3'],
      ['web.cf', 'drain', '10.0.1.2', '--timeout', 'soon'],
      ['web.cf', 'undrain', '10.0.1.2', '--timeout', '5'],
      ['web.cf', 'drain', '10.0.1.2', '--force'],
    ])
      assert.equal(kind(bad), 'usage', bad.join(' '));
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

  /**
   * The original's ld_init, as a model: with two or more words the first is CONFIG and the
   * second COMMAND, whatever they say; one word is the COMMAND; an unknown COMMAND (or none)
   * is usage (exit 255) before any file is looked at.
   */
  function perl(words: string[]): { kind: 'usage' } | { kind: 'daemon'; config: string; command: string } {
    const commands = ['start', 'stop', 'restart', 'try-restart', 'reload', 'force-reload', 'status'];
    if (words.length === 0) return { kind: 'usage' };
    const [config, command] = words.length >= 2 ? [words[0]!, words[1]!] : ['ldirectord.cf', words[0]!];
    return commands.includes(command) ? { kind: 'daemon', config, command } : { kind: 'usage' };
  }
  it('every order of 0-3 words (each command word, a config name) reads as the original reads it', () => {
    const vocabulary = ['start', 'stop', 'restart', 'try-restart', 'reload', 'force-reload', 'status', 'my.cf', 'frob'];
    const lists: string[][] = [[]];
    for (let n = 1; n <= 3; n++)
      for (const prev of lists.filter((l) => l.length === n - 1)) for (const w of vocabulary) lists.push([...prev, w]);
    let compared = 0;
    for (const words of lists) {
      const want = perl(words);
      const got = parseArgs(words);
      if (want.kind === 'usage') assert.equal(got.kind, 'usage', words.join(' '));
      else {
        assert.equal(got.kind, 'daemon', words.join(' '));
        assert.ok(got.kind === 'daemon');
        assert.deepEqual([got.config, got.command], [want.config, want.command], words.join(' '));
      }
      compared++;
    }
    assert.equal(compared, 1 + 9 + 81 + 729);
  });
  it('command first, CONFIG second is not guessed: `start my.cf` is usage, `start stop` looks for "start"', () => {
    assert.equal(kind(['start', 'my.cf']), 'usage');
    const a = parseArgs(['start', 'stop']);
    assert.ok(a.kind === 'daemon' && a.config === 'start' && a.command === 'stop' && a.cfgname === 'start');
  });
  it('unknown options are usage in every position before the words', () => {
    for (const bad of ['--frob', '-x', '--dry', '-dq'])
      for (const words of [['start'], ['my.cf', 'start'], []]) assert.equal(kind([bad, ...words]), 'usage');
  });
  it('--against and logs --all', () => {
    const r = parseArgs(['--dry-run', '--against', '/etc/ha.d/ldirectord.cf', 'new.cf']);
    assert.ok(r.kind === 'dry-run' && r.opts.against === '/etc/ha.d/ldirectord.cf' && r.config === 'new.cf');
    const l = parseArgs(['x.cf', 'logs', '--all']);
    assert.ok(l.kind === 'logs' && l.logs.all);
    assert.ok(parseArgs(['x.cf', 'logs']).kind === 'logs');
    const own = parseArgs(['x.cf', 'logs']);
    assert.ok(own.kind === 'logs' && !own.logs.all);
  });
  it('--help names every option the parser takes', () => {
    // Read from the parser's source, so a new option without a line in --help fails here.
    const source = readFileSync(join(__dirname, '..', '..', '..', 'src', 'cli', 'args.ts'), 'utf8');
    const options = new Set([...source.matchAll(/(?:case|===) '(--?[a-z][a-z-]*)'/g)].map((m) => m[1]!));
    assert.ok(options.size >= 12, [...options].join(' '));
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    for (const o of options) assert.ok(help.stdout.includes(o), `--help does not mention ${o}`);
  });
});
