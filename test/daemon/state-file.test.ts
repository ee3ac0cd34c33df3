/** The daemon's state file (src/daemon/state-file.ts): whole or nothing, never through a link. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readState, stateFilePath, writeState } from '../../src/daemon/state-file';

describe('daemon: state file', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ldstate-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lives under /var/lib/ldirectord unless LDIRECTORD_STATE_DIR (or a private run dir) says', () => {
    assert.equal(stateFilePath('web.cf', {}), '/var/lib/ldirectord/web.cf.state');
    assert.equal(stateFilePath('web.cf', { LDIRECTORD_RUN_DIR: '/tmp/r' }), '/tmp/r/web.cf.state');
    assert.equal(stateFilePath('web.cf', { LDIRECTORD_STATE_DIR: '/s', LDIRECTORD_RUN_DIR: '/r' }), '/s/web.cf.state');
  });

  it('round-trips drains and ramps, mode 0600; an empty state removes the file', () => {
    const path = join(dir, 'sub', 'x.state');
    const state = {
      drains: { 'tcp:10.0.0.1:80|10.0.1.2:80': { since: 1, deadline: 2, phase: 'draining' as const } },
      ramps: { 'tcp:10.0.0.1:80|10.0.1.3:80': 5 },
    };
    writeState(path, state);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readState(path), { state, error: null });
    writeState(path, { drains: {}, ramps: {} });
    assert.equal(existsSync(path), false);
    assert.deepEqual(readState(path), { state: { drains: {}, ramps: {} }, error: null }, 'none yet is no error');
  });

  it('a damaged file is reported and ignored; malformed records are dropped', () => {
    const path = join(dir, 'x.state');
    writeFileSync(path, '{"drains": {"a": {"since": 1');
    const r = readState(path);
    assert.deepEqual(r.state, { drains: {}, ramps: {} });
    assert.match(r.error!, /is damaged/);
    writeFileSync(
      path,
      JSON.stringify({
        drains: { a: { since: 'x' }, b: { since: 1, deadline: 2, phase: 'drained' } },
        ramps: { c: 'no', d: 9 },
      }),
    );
    assert.deepEqual(readState(path).state, {
      drains: { b: { since: 1, deadline: 2, phase: 'drained' } },
      ramps: { d: 9 },
    });
  });

  it('a symlink planted at the path is neither read nor written through', () => {
    const target = join(dir, 'target');
    writeFileSync(target, 'precious');
    const path = join(dir, 'x.state');
    symlinkSync(target, path);
    assert.match(readState(path).error!, /ELOOP/);
    writeState(path, { drains: {}, ramps: { k: 1 } });
    assert.equal(readFileSync(target, 'utf8'), 'precious');
    assert.deepEqual(readState(path).state.ramps, { k: 1 });
  });
});
