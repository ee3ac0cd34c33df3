/**
 * The runner (src/checks/run.ts): the deadline, the outer (daemon stop) signal, the
 * backstop for a check that ignores its signal, and exceptions turned into results.
 */
import assert from 'node:assert/strict';
import { CHECKS } from '../../src/checks/index';
import { errorReason, formatSeconds, runProbe, timeoutReason } from '../../src/checks/run';
import type { NoneSpec } from '../../src/checks/types';

describe('checks: runner', () => {
  const none = (timeoutMs = 1000): NoneSpec => ({ kind: 'none', timeoutMs });
  const original = CHECKS.none;
  afterEach(() => {
    CHECKS.none = original;
  });

  it('formats timeouts as the reasons say them', () => {
    assert.equal(formatSeconds(2000), '2 s');
    assert.equal(formatSeconds(1500), '1.5 s');
    assert.equal(timeoutReason(30000), 'timed out after 30 s');
  });

  it('returns the check result with its duration', async () => {
    const r = await runProbe(none());
    assert.equal(r.up, true);
    assert.equal(r.reason, 'service none: no check');
    assert.ok(Number.isInteger(r.ms) && r.ms >= 0);
  });

  it('gives the check an AbortSignal that fires at the deadline with the timeout reason', async () => {
    let seen: unknown;
    CHECKS.none = (_s, { signal }) =>
      new Promise((resolve) => {
        signal.addEventListener('abort', () => {
          seen = signal.reason;
          resolve({ up: false, reason: (signal.reason as Error).message });
        });
      });
    const r = await runProbe(none(300));
    assert.deepEqual([r.up, r.reason], [false, 'timed out after 0.3 s']);
    assert.ok(seen instanceof Error);
  });

  it('does not wait for a check that ignores its signal (backstop)', async () => {
    CHECKS.none = () => new Promise(() => undefined);
    const r = await runProbe(none(200));
    assert.deepEqual([r.up, r.reason], [false, 'timed out after 0.2 s']);
  });

  it('turns an exception into a down result', async () => {
    CHECKS.none = async () => {
      throw Object.assign(new Error('boom'), { code: 'EBOOM', syscall: 'read' });
    };
    const r = await runProbe(none());
    assert.deepEqual([r.up, r.reason], [false, 'read EBOOM']);
    assert.equal(errorReason(new Error('plain')), 'plain');
    assert.equal(errorReason('text'), 'text');
  });

  it('reports "stopped" when the daemon stops, even before the check starts', async () => {
    const stop = new AbortController();
    stop.abort();
    CHECKS.none = (_s, { signal }) => Promise.resolve({ up: !signal.aborted, reason: signal.aborted ? (signal.reason as Error).message : 'ran' });
    const r = await runProbe(none(), stop.signal);
    assert.deepEqual([r.up, r.reason], [false, 'stopped']);
  });

  it('aborts the signal once the check is done (so nothing it left listening lingers)', async () => {
    let sig: AbortSignal | undefined;
    CHECKS.none = async (_s, { signal }) => {
      sig = signal;
      return { up: true, reason: 'ok' };
    };
    await runProbe(none());
    assert.equal(sig?.aborted, true);
  });
});
