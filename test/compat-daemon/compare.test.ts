/** The comparison rules of the side-by-side runs, on known inputs (no daemons). */
import assert from 'node:assert/strict';
import { expectFromPerl, grepped, multisetDiff, normalizeState, reduceFlap } from './compare';

describe('side-by-side comparison rules', () => {
  it('normalises the fake ipvsadm state: sorted per service, thresholds appended', () => {
    const t = normalizeState({
      save: '-A -t 10.0.0.2:80 -s wrr\n-a -t 10.0.0.2:80 -r 127.0.0.3:80 -m -w 1\n-A -f 5 -s rr\n-a -t 10.0.0.2:80 -r 127.0.0.2:80 -m -w 2\n',
      thresholds: { 'tcp:10.0.0.2:80 127.0.0.3:80': [100, 10] },
    });
    assert.deepEqual(t, [
      '-A -f 5 -s rr',
      '-A -t 10.0.0.2:80 -s wrr',
      '-a -t 10.0.0.2:80 -r 127.0.0.2:80 -m -w 2',
      '-a -t 10.0.0.2:80 -r 127.0.0.3:80 -m -w 1 -x 100 -y 10',
    ]);
  });

  it('greps the lines operators grep for, without the [time|cfg|pid] prefix', () => {
    assert.deepEqual(
      grepped([
        '[Sat Nov 21 10:50:06 2026|a.cf|12] Added real server: 127.0.0.2:80 (10.0.0.1:80) (Weight set to 1)',
        '[Sat Nov 21 10:50:06 2026|a.cf|12] Resetting soft failure count: 127.0.0.2:80 (tcp:10.0.0.1:80)',
        '[Sat Nov  1 10:50:06 2026|a.cf|12] Readd Quiescent real server: 127.0.0.2:80 (10.0.0.1:80) (Weight set to 0)',
      ]),
      [
        'Added real server: 127.0.0.2:80 (10.0.0.1:80) (Weight set to 1)',
        'Readd Quiescent real server: 127.0.0.2:80 (10.0.0.1:80) (Weight set to 0)',
      ],
    );
  });

  it('reduces Perl B.1 start-up flap (quiescent=no) to one add per real and no fallback', () => {
    const F = 'fallback server: 127.0.0.1:80 (10.0.0.1:80)';
    const lines = [
      `Added ${F} (Weight set to 1)`,
      'Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)',
      `Deleted ${F}`,
      'Deleted real server: 127.0.0.2:8080 (10.0.0.1:80)',
      `Added ${F} (Weight set to 1)`,
      'Added real server: 127.0.0.3:8080 (10.0.0.1:80) (Weight set to 5)',
      `Deleted ${F}`,
      'Deleted real server: 127.0.0.3:8080 (10.0.0.1:80)',
      `Added ${F} (Weight set to 1)`,
      'Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)',
      `Deleted ${F}`,
      'Added real server: 127.0.0.3:8080 (10.0.0.1:80) (Weight set to 5)',
    ];
    assert.deepEqual(reduceFlap(lines), [
      'Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)',
      'Added real server: 127.0.0.3:8080 (10.0.0.1:80) (Weight set to 5)',
    ]);
  });

  it('reduces the quiescent=yes flap: add+quiesce+restore is an add, add+quiesce a weight-0 placement', () => {
    assert.deepEqual(
      reduceFlap([
        'Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)',
        'Quiescent real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 0)',
        'Added real server: 127.0.0.9:8080 (10.0.0.1:80) (Weight set to 2)',
        'Quiescent real server: 127.0.0.9:8080 (10.0.0.1:80) (Weight set to 0)',
        'Restored real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)',
        // a real that was quiesced before a reload: restored in the flap, quiesced again
        'Restored real server: 127.0.0.4:8080 (10.0.0.1:80) (Weight set to 3)',
        'Quiescent real server: 127.0.0.4:8080 (10.0.0.1:80) (Weight set to 0)',
        'Purged virtual server (start): 10.0.0.2:80',
      ]),
      [
        'Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)',
        'Purged virtual server (start): 10.0.0.2:80',
        'Readd Quiescent real server: 127.0.0.9:8080 (10.0.0.1:80) (Weight set to 0)',
      ],
    );
  });

  it('reduces readdquiescent=yes: placed at weight 0 then restored by the first check is an add', () => {
    assert.deepEqual(
      reduceFlap([
        'Readd Quiescent real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 0)',
        'Readd Quiescent real server: 127.0.0.9:8080 (10.0.0.1:80) (Weight set to 0)',
        'Restored real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)',
      ]),
      [
        'Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 1)',
        'Readd Quiescent real server: 127.0.0.9:8080 (10.0.0.1:80) (Weight set to 0)',
      ],
    );
  });

  it('a gate real quiesced under its rewritten port is the same destination (mapped from)', () => {
    assert.deepEqual(
      reduceFlap([
        'Added real server: 127.0.0.2:8080 (10.0.0.1:80) (Weight set to 2)',
        'Deleted real server: 127.0.0.2:80 mapped from 127.0.0.2:8080 (10.0.0.1:80)',
      ]),
      [],
    );
  });

  it('applies a declared difference exactly, and reports a Perl side that is not there', () => {
    const ok = expectFromPerl(['a', 'b', 'c'], [{ ref: 'W-x', perl: ['b'], ours: ['B'] }], 'table');
    assert.deepEqual(ok, { expected: ['a', 'c', 'B'], problems: [] });
    const missing = expectFromPerl(['a'], [{ ref: 'W-x', perl: ['b'], ours: ['B'] }], 'table');
    assert.equal(missing.problems.length, 1);
    assert.match(missing.problems[0]!, /W-x: Perl's table was expected to show "b"/);
  });

  it('compares as multisets', () => {
    assert.deepEqual(multisetDiff(['a', 'a', 'b'], ['a', 'b', 'c']), { onlyA: ['a'], onlyB: ['c'] });
  });
});
