/**
 * Autoreload (chokidar) against the ways a config file gets broken while a daemon runs:
 * each is logged with the file (and line), the running config and table stay exactly as
 * they were, and a later good file is picked up (issue 8, item 2).
 */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { Director } from '../helpers/director';

const cfg = (weight: number, extra = '') => `
autoreload=yes
checkinterval=1
checktimeout=1
virtual=10.0.0.1:80
	real=127.50.1.2:8080 masq ${weight}
	checktype=connect
${extra}`;

const table = (w: number) => `-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.1.2:8080 -m -w ${w}\n`;

describe('autoreload', function () {
  this.timeout(90000);
  let d: Director;
  before(async () => {
    d = new Director();
    await d.listen('127.50.1.2', 8080);
    d.config(cfg(1));
    assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
    await d.waitTable(table(1));
  });
  after(() => d.cleanup());

  const errors = () =>
    d
      .logText()
      .split('\n')
      .filter((l) => /keeping the running configuration/.test(l)).length;

  async function broken(name: string, breakIt: () => void, expect: RegExp): Promise<void> {
    const before = errors();
    const cmds = d.commands().length;
    breakIt();
    await d.waitFor(`${name}: error logged`, () => errors() > before);
    const line = d
      .logText()
      .split('\n')
      .filter((l) => /keeping the running configuration/.test(l))
      .pop()!;
    assert.match(line, expect, name);
    assert.equal(d.table(), table(1), `${name}: table unchanged`);
    assert.deepEqual(d.commands().slice(cmds), [], `${name}: no ipvsadm change`);
  }

  it('an editor-style save (write a temp file, rename it over) is picked up', async () => {
    writeFileSync(d.cfg + '.tmp', `logfile="${d.log}"\n` + cfg(4).replace(/^\n/, ''));
    renameSync(d.cfg + '.tmp', d.cfg);
    await d.waitTable(table(4));
    assert.match(d.logText(), /Configuration file '.*' has changed on disk\n.* - reread new configuration/);
    d.config(cfg(1));
    await d.waitTable(table(1));
  });

  it('a syntax error', () =>
    broken('syntax', () => d.config(cfg(1, '\tscheduler=W RR')), /at line 8: invalid scheduler/));
  it('a truncated file', () =>
    broken(
      'truncated',
      () => writeFileSync(d.cfg, `logfile="${d.log}"\nvirtual=10.0.0.1:80\n\treal=127.50.1.2:8080 ma`),
      /at line 3: forward method must be gate, masq or ipip/,
    ));
  it('an empty file', () => broken('empty', () => writeFileSync(d.cfg, ''), /the file is empty/));
  it('a binary file', () =>
    broken(
      'binary',
      () => writeFileSync(d.cfg, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0xff, 10, 0x90, 0x90])),
      /at line 1: Unknown command/,
    ));
  it('a deleted file', () => broken('deleted', () => unlinkSync(d.cfg), /ENOENT|can not open file/));
  it('a directory where the file was', () =>
    broken('directory', () => mkdirSync(d.cfg), /not a regular file|EISDIR|can not open file/));

  it('a good file afterwards is picked up', async () => {
    rmSync(d.cfg, { recursive: true, force: true });
    d.config(cfg(7));
    await d.waitTable(table(7));
  });

  it('the daemon kept checking all along', async () => {
    await d.close('127.50.1.2', 8080);
    await d.waitTable('-A -t 10.0.0.1:80 -s wrr\n');
  });
});
