/**
 * The runner (src/checks/run.ts): the deadline, the outer (daemon stop) signal, the
 * backstop for a check that ignores its signal, and exceptions turned into results.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { CHECK_KINDS } from '../../src/checks/registry';
import { runProbe } from '../../src/checks/run';
import { formatSeconds, timeoutReason, errorText } from '../../src/checks/kernel';
import type { NoneSpec } from '../../src/checks/none';

describe('checks: runner', () => {
  const none = (timeoutMs = 1000): NoneSpec => ({ kind: 'none', timeoutMs });
  const original = CHECK_KINDS.none.run;
  afterEach(() => {
    CHECK_KINDS.none.run = original;
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
    CHECK_KINDS.none.run = (_s, { signal }) =>
      new Promise((resolve) => {
        signal.addEventListener('abort', () => {
          seen = signal.reason;
          resolve({ up: false, cause: 'error', reason: (signal.reason as Error).message });
        });
      });
    const r = await runProbe(none(300));
    assert.deepEqual([r.up, r.reason], [false, 'timed out after 0.3 s']);
    assert.ok(seen instanceof Error);
  });

  it('does not wait for a check that ignores its signal (backstop)', async () => {
    CHECK_KINDS.none.run = () => new Promise(() => undefined);
    const r = await runProbe(none(200));
    assert.deepEqual([r.up, r.reason], [false, 'timed out after 0.2 s']);
  });

  it('turns an exception into a down result', async () => {
    CHECK_KINDS.none.run = async () => {
      throw Object.assign(new Error('boom'), { code: 'EBOOM', syscall: 'read' });
    };
    const r = await runProbe(none());
    assert.deepEqual([r.up, r.reason], [false, 'read EBOOM']);
    assert.equal(errorText(new Error('plain')), 'plain');
    assert.equal(errorText('text'), 'text');
  });

  it('reports "stopped" when the daemon stops, even before the check starts', async () => {
    const stop = new AbortController();
    stop.abort();
    CHECK_KINDS.none.run = (_s, { signal }) =>
      Promise.resolve({
        up: !signal.aborted,
        cause: signal.aborted ? 'stopped' : 'ok',
        reason: signal.aborted ? (signal.reason as Error).message : 'ran',
      });
    const r = await runProbe(none(), stop.signal);
    assert.deepEqual([r.up, r.reason], [false, 'stopped']);
  });

  it('aborts the signal once the check is done if something still listens on it', async () => {
    let sig: AbortSignal | undefined;
    let told = 0;
    CHECK_KINDS.none.run = async (_s, { signal }) => {
      sig = signal;
      signal.addEventListener('abort', () => told++); // left behind by the check
      return { up: true, cause: 'ok', reason: 'ok' };
    };
    await runProbe(none());
    assert.equal(sig?.aborted, true);
    assert.equal(told, 1);
  });

  it('gives a probe a fresh, unaborted signal for every check (a clean one is reused)', async () => {
    const seen: AbortSignal[] = [];
    let cleanup = true;
    CHECK_KINDS.none.run = async (_s, { signal }) => {
      assert.equal(signal.aborted, false);
      seen.push(signal);
      const f = () => undefined;
      signal.addEventListener('abort', f);
      if (cleanup) signal.removeEventListener('abort', f);
      return { up: true, cause: 'ok', reason: 'ok' };
    };
    const spec = none();
    await runProbe(spec);
    await runProbe(spec);
    // A check that cleaned up after itself: its controller serves the probe's next check.
    assert.equal(seen[1], seen[0]);
    cleanup = false;
    await runProbe(spec);
    // One that left a listener: told (aborted), never handed out again.
    assert.equal(seen[2]!.aborted, true);
    await runProbe(spec);
    assert.notEqual(seen[3], seen[2]);
    assert.equal(seen.length, 4);
    // Two runs of one spec at once never share a signal.
    cleanup = true;
    const both: AbortSignal[] = [];
    CHECK_KINDS.none.run = async (_s, { signal }) => {
      both.push(signal);
      await new Promise((r) => setTimeout(r, 20));
      return { up: true, cause: 'ok', reason: 'ok' };
    };
    await Promise.all([runProbe(spec), runProbe(spec)]);
    assert.notEqual(both[0], both[1]);
  });

  it('a deadline that fires late on a blocked event loop looks at the answer that arrived first', async function () {
    // The server (another process, so it is not blocked with us) answers 100 ms after the
    // request. This process is busy from the moment the request is in until well after
    // the deadline; the answer waits in the socket buffer. Node runs overdue timers before
    // it polls sockets: without the deferral the deadline would report "timed out" for a
    // server that answered in time.
    const script = `
      const s = require('net').createServer((c) => c.once('data', () => {
        process.send('request');
        setTimeout(() => c.end('HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nOK'), 100);
      }));
      s.listen(0, '127.0.0.1', () => process.send(s.address().port));`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    try {
      const port = await new Promise<number>((r) => child.once('message', (m) => r(m as number)));
      const gotRequest = new Promise<void>((r) => child.once('message', () => r()));
      const url = `http://127.0.0.1:${port}/`;
      const pending = runProbe({
        kind: 'http',
        url,
        method: 'GET',
        hostHeader: null,
        proxy: null,
        receive: null,
        timeoutMs: 300,
      });
      await gotRequest;
      const until = Date.now() + 600;
      while (Date.now() < until);
      const r = await pending;
      assert.deepEqual([r.up, r.reason], [true, 'HTTP 200 OK']);
    } finally {
      child.kill();
    }
  });
});
