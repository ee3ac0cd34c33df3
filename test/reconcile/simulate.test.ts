/** The fake kernel's ipvsadm semantics (src/reconcile/simulate.ts) where the compat runs rely on them. */
import assert from 'node:assert/strict';
import { simulateCommand } from '../../src/reconcile/simulate';
import type { Table } from '../../src/reconcile/table';

describe('simulateCommand', () => {
  it('refuses a real server without an address, as ipvsadm does (Perl W-4 runs `-r :0`)', () => {
    const t: Table = new Map();
    assert.equal(simulateCommand(t, ['-A', '-f', '5', '-s', 'wrr']), null);
    assert.equal(
      simulateCommand(t, ['-a', '-f', '5', '-x', '0', '-y', '0', '-r', ':0', '-w', '1']),
      'illegal real server address',
    );
    assert.equal(t.get('fwm:5')!.dests.size, 0);
    assert.equal(simulateCommand(t, ['-a', '-f', '5', '-r', '127.0.0.2:80', '-g', '-w', '1']), null);
    assert.deepEqual([...t.get('fwm:5')!.dests.keys()], ['127.0.0.2:80']);
  });
});
