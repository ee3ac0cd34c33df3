/** Small pure helpers: command splitting, redaction, Perl's localtime, the open-file cap. */
import assert from 'node:assert/strict';
import { splitCommand } from '../../src/daemon/exec';
import { Redactor } from '../../src/daemon/redact';
import { perlLocaltime } from '../../src/perl/localtime';
import { maxChecksInFlight } from '../../src/daemon/limits';
import { config } from '../helpers/config';

describe('small helpers', () => {
  it('splitCommand: words, quotes and escapes, nothing expanded', () => {
    assert.deepEqual(splitCommand('/usr/bin/x a  b'), ['/usr/bin/x', 'a', 'b']);
    assert.deepEqual(splitCommand(`"/opt/my tool" 'one arg' two\\ words`), ['/opt/my tool', 'one arg', 'two words']);
    assert.deepEqual(splitCommand('x $HOME `id` ;rm'), ['x', '$HOME', '`id`', ';rm']);
    assert.deepEqual(splitCommand('x ""'), ['x', '']);
  });
  it('redacts passwd, secret and login values', async () => {
    const cfg = await config(
      'virtual=10.0.0.1:3306\n\tservice=mysql\n\tlogin="dbmon"\n\tpasswd="pw"\n\trequest="SELECT 1"\n',
    );
    const r = new Redactor(cfg);
    assert.equal(r.redact('Access denied for user dbmon with pw'), 'Access denied for user *** with ***');
    assert.equal(r.redact('pwned pw.'), 'pwned ***.', 'short values only where they stand alone');
  });
  it("perlLocaltime is Perl's scalar localtime (day padded with a space)", () => {
    assert.equal(perlLocaltime(new Date(2026, 10, 1, 9, 5, 3)), 'Sun Nov  1 09:05:03 2026');
    assert.equal(perlLocaltime(new Date(2026, 10, 21, 10, 50, 6)), 'Sat Nov 21 10:50:06 2026');
  });
  it('sizes the in-flight cap from the open-file limit', () => {
    assert.equal(maxChecksInFlight(1024), 716);
    assert.equal(maxChecksInFlight(64), 16);
    assert.equal(maxChecksInFlight(1 << 20), 20000);
  });
});
