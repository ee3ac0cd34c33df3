/**
 * `ldirectord CONFIG logs -f` against a real file the test writes to, through what
 * logrotate and operators do: a rename rotation, copytruncate, the file deleted and made
 * again, a file (and folder) that does not exist yet. Each step waits for the expected
 * output with a bounded deadline; nothing asserts how long anything took.
 */
import assert from 'node:assert/strict';
import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Follower, logDir, stamped, type LogDir } from './run';

const up = (n: number) => `Real server up: 10.0.1.1:8080 (tcp:10.0.0.1:80): check ${n}`;
const down = (n: number) => `Real server down: 10.0.1.2:8080 (tcp:10.0.0.1:80): check ${n}`;
const count = (f: Follower, text: string) => f.lines.filter((l) => l.endsWith(text)).length;

describe('logs -f', function () {
  this.timeout(60_000);
  let d: LogDir;
  let f: Follower | null = null;
  beforeEach(() => (d = logDir()));
  afterEach(async () => {
    await f?.stop('SIGKILL');
    f = null;
    d.remove();
  });

  it('prints the last N lines, then what is appended; SIGTERM stops it with 0', async () => {
    d.append([up(1), up(2), up(3)]);
    f = new Follower([d.config, 'logs', '-f', '-n', '2']);
    await f.untilLine(up(3));
    d.append([up(4)]);
    await f.untilLine(up(4));
    d.append([up(5), up(6)]);
    await f.untilLine(up(6));
    assert.deepEqual(
      f.lines.map((l) => l.replace(/^\[[^\]]*\] /, '')),
      [up(2), up(3), up(4), up(5), up(6)],
    );
    assert.equal(await f.stop('SIGTERM'), 0);
    assert.equal(f.stderr, '');
  });

  it('SIGINT stops it with 0', async () => {
    d.append([up(1)]);
    f = new Follower([d.config, 'logs', '-f', '-n', '1']);
    await f.untilLine(up(1));
    assert.equal(await f.stop('SIGINT'), 0);
  });

  it('filters and --json apply to what is followed', async () => {
    d.append([down(0), up(1)]);
    f = new Follower([d.config, 'logs', '-f', '-n', '1', '--json', '--real', '10.0.1.2']);
    await f.until('the last matching line', () => f!.lines.length >= 1);
    d.append([up(2), down(3), up(4), down(5)]);
    await f.until('two more lines', () => f!.lines.length >= 3);
    d.append([down(6)]);
    await f.until('one more line', () => f!.lines.length >= 4);
    const objs = f.lines.map((l) => JSON.parse(l));
    assert.deepEqual(
      objs.map((o) => o.reason),
      ['check 0', 'check 3', 'check 5', 'check 6'],
    );
    assert.ok(objs.every((o) => o.event === 'real-down' && o.real === '10.0.1.2:8080' && o.cfgname === 'web.cf'));
  });

  it('a line written in two parts is printed once, whole', async () => {
    d.append([up(1)]);
    f = new Follower([d.config, 'logs', '-f', '-n', '1']);
    await f.untilLine(up(1));
    const line = stamped(up(2));
    appendFileSync(d.log, line.slice(0, 20));
    // Give the follower a chance to read the first half on its own (not a wait for output).
    await new Promise((r) => setTimeout(r, 300));
    appendFileSync(d.log, line.slice(20));
    await f.untilLine(up(2));
    assert.equal(f.stdout, readFileSync(d.log, 'utf8'));
  });

  it('rename rotation (mv log log.1): the rest of the old file, then the new file from its start', async () => {
    d.append([up(1)]);
    f = new Follower([d.config, 'logs', '-f', '-n', '1']);
    await f.untilLine(up(1));
    d.append([up(2)]);
    await f.untilLine(up(2));
    // A line that lands just before the rename is read from the old file.
    d.append([up(3)]);
    renameSync(d.log, `${d.log}.1`);
    d.append([up(4), up(5)]); // the daemon opens the path per write: a new file
    await f.untilLine(up(5));
    d.append([up(6)]);
    await f.untilLine(up(6));
    assert.deepEqual(
      f.lines.map((l) => l.replace(/^\[[^\]]*\] /, '')),
      [up(1), up(2), up(3), up(4), up(5), up(6)],
    );
    assert.match(f.stderr, /has been replaced; following the new file/);
  });

  it('two rotations in a row', async () => {
    d.append([up(1)]);
    f = new Follower([d.config, 'logs', '-f', '-n', '1']);
    await f.untilLine(up(1));
    for (let n = 2; n <= 4; n++) {
      renameSync(d.log, `${d.log}.${n}`);
      d.append([up(n)]);
      await f.untilLine(up(n));
    }
    assert.deepEqual(
      f.lines.map((l) => l.replace(/^\[[^\]]*\] /, '')),
      [up(1), up(2), up(3), up(4)],
    );
  });

  it('copytruncate (cp log log.1; truncate log): starts again from 0, nothing twice', async () => {
    d.append([up(1), up(2), up(3)]);
    f = new Follower([d.config, 'logs', '-f', '-n', '3']);
    await f.untilLine(up(3));
    copyFileSync(d.log, `${d.log}.1`);
    truncateSync(d.log, 0);
    d.append([down(4)]);
    await f.untilLine(down(4));
    d.append([down(5)]);
    await f.untilLine(down(5));
    for (const n of [1, 2, 3]) assert.equal(count(f, up(n)), 1, `${up(n)} once`);
    assert.deepEqual(
      f.lines.map((l) => l.replace(/^\[[^\]]*\] /, '')),
      [up(1), up(2), up(3), down(4), down(5)],
    );
  });

  it('copytruncate where the new lines outgrow the old file before the follower looks', async () => {
    d.append([up(1)]);
    f = new Follower([d.config, 'logs', '-f', '-n', '1']);
    await f.untilLine(up(1));
    // Truncate and write more than there was, in one go: the size alone cannot tell.
    truncateSync(d.log, 0);
    d.append([down(2), down(3), down(4)]);
    await f.untilLine(down(4));
    assert.deepEqual(
      f.lines.map((l) => l.replace(/^\[[^\]]*\] /, '')),
      [up(1), down(2), down(3), down(4)],
    );
  });

  it('the file deleted, then made again: waits, then reads the new one from its start', async () => {
    d.append([up(1)]);
    f = new Follower([d.config, 'logs', '-f', '-n', '1']);
    await f.untilLine(up(1));
    unlinkSync(d.log);
    await f.until('the follower to notice', () => f!.stderr.includes('has disappeared; waiting for it to come back'));
    d.append([up(2), up(3)]);
    await f.untilLine(up(3));
    await f.until('the notice', () => f!.stderr.includes('has appeared; following it'));
    d.append([up(4)]);
    await f.untilLine(up(4));
    assert.deepEqual(
      f.lines.map((l) => l.replace(/^\[[^\]]*\] /, '')),
      [up(1), up(2), up(3), up(4)],
    );
  });

  it('a log file that does not exist yet: waits for it and prints it all', async () => {
    f = new Follower([d.config, 'logs', '-f']);
    await f.until('the waiting notice', () => f!.stderr.includes('does not exist; waiting for it'));
    d.append([up(1), up(2)]);
    await f.untilLine(up(2));
    d.append([up(3)]);
    await f.untilLine(up(3));
    assert.deepEqual(
      f.lines.map((l) => l.replace(/^\[[^\]]*\] /, '')),
      [up(1), up(2), up(3)],
    );
  });

  it('a log folder that does not exist yet', async () => {
    const sub = join(d.dir, 'later');
    const log = join(sub, 'ldirectord.log');
    const cf = join(d.dir, 'later.cf');
    writeFileSync(cf, `logfile="${log}"\n`);
    f = new Follower([cf, 'logs', '-f']);
    await f.until('the waiting notice', () => f!.stderr.includes('does not exist; waiting for it'));
    mkdirSync(sub);
    // Lines of this config's instance (its name is the cfgname each line carries).
    writeFileSync(log, stamped(up(1), new Date(), 'later.cf'));
    await f.untilLine(up(1));
    appendFileSync(log, stamped(up(2), new Date(), 'later.cf'));
    await f.untilLine(up(2));
  });
});
