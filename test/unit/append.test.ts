/**
 * util/append.ts: the log file and monitorfiles are appended to safely. Real files, a real
 * symlink, a real FIFO, and a real full disk (a 64 KiB tmpfs, mounted for the test).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FILE_MODE, SafeAppender, probeAppend, type AppendError } from '../../src/util/append';
import { requirePart } from '../helpers/env';

const append = (a: SafeAppender, text: string) => new Promise<AppendError | null>((resolve) => a.append(text, resolve));

describe('util: safe append (log file, monitorfile)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ld-append-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a new file with mode 0640 and appends whole lines', async () => {
    const f = join(dir, 'log');
    const old = process.umask(0);
    try {
      const a = new SafeAppender(f);
      assert.equal(await append(a, 'one\n'), null);
      assert.equal(await append(a, 'two\n'), null);
    } finally {
      process.umask(old);
    }
    assert.equal(readFileSync(f, 'utf8'), 'one\ntwo\n');
    assert.equal(statSync(f).mode & 0o777, FILE_MODE);
    assert.equal(FILE_MODE, 0o640);
  });

  it('never writes through a symlink: the file it names is untouched', async () => {
    const target = join(dir, 'shadow');
    writeFileSync(target, 'secret\n');
    const link = join(dir, 'log');
    symlinkSync(target, link);
    const err = await append(new SafeAppender(link), 'forged\n');
    assert.ok(err, 'the write is refused');
    assert.equal(err.code, 'ELOOP');
    assert.ok(err.unsafe);
    assert.match(err.message, /symbolic link/);
    assert.equal(readFileSync(target, 'utf8'), 'secret\n');
    assert.equal(probeAppend(link)?.code, 'ELOOP');
  });

  it('refuses a FIFO at once, with or without a reader, and never waits on it', async () => {
    const fifo = join(dir, 'log');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    const err = await append(new SafeAppender(fifo), 'x\n');
    assert.ok(err?.unsafe, `refused: ${err?.message}`);
    assert.match(err.message, /FIFO|not a regular file/);
    assert.ok(probeAppend(fifo)?.unsafe);
    assert.ok(Date.now() - started < 5000, 'no hang');
  });

  it('refuses a directory and a device, but takes /dev/null (a log thrown away on purpose)', async () => {
    const sub = join(dir, 'd');
    mkdirSync(sub);
    assert.equal((await append(new SafeAppender(sub), 'x\n'))?.code, 'EISDIR');
    const dev = await append(new SafeAppender('/dev/zero'), 'x\n');
    assert.ok(dev?.unsafe);
    assert.match(dev.message, /not a regular file/);
    assert.equal(await append(new SafeAppender('/dev/null'), 'x\n'), null);
    assert.equal(probeAppend('/dev/null'), null);
  });

  it('reports a missing directory as the errno, not as unsafe', async () => {
    const err = await append(new SafeAppender(join(dir, 'missing', 'log')), 'x\n');
    assert.equal(err?.code, 'ENOENT');
    assert.equal(err.unsafe, false);
  });

  describe('a full disk', function () {
    let mnt: string;
    before(function () {
      requirePart(this, process.getuid?.() === 0 ? null : 'mounting a tmpfs needs root');
      mnt = mkdtempSync(join(tmpdir(), 'ld-full-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
    });
    after(() => {
      if (!mnt) return;
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    });

    it('leaves no half line in front of the next line once there is room again', async () => {
      const f = join(mnt, 'log');
      const a = new SafeAppender(f);
      assert.equal(await append(a, 'first line\n'), null);
      // Fill the disk, leaving less room than the next line needs.
      const filler = join(mnt, 'filler');
      try {
        writeFileSync(filler, Buffer.alloc(64 * 1024 - 4096 - 100, 0x41));
      } catch {
        // ENOSPC: as full as it gets
      }
      const long = 'L'.repeat(8000) + '\n';
      const err = await append(a, long);
      assert.equal(err?.code, 'ENOSPC');
      unlinkSync(filler);
      assert.equal(await append(a, 'after the disk was freed\n'), null);
      const lines = readFileSync(f, 'utf8').split('\n');
      assert.equal(lines[0], 'first line');
      assert.equal(lines.at(-1), '', 'ends with a newline');
      assert.equal(lines.at(-2), 'after the disk was freed', 'the next line starts on a line of its own');
      // The disk took part of the long line: it is cut, and on a line of its own.
      const cut = lines.slice(1, -2);
      assert.equal(cut.length, 1, JSON.stringify(lines.map((l) => l.slice(0, 20))));
      assert.match(cut[0]!, /^L+$/);
      assert.ok(cut[0]!.length < 8000, 'the line was cut by the full disk');
      assert.ok(existsSync(f));
    });
  });
});
