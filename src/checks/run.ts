/**
 * Run one probe with a hard deadline.
 *
 * The deadline is an AbortSignal handed to the check, which must tear its socket or child
 * process down when it fires. As a safety net the runner stops waiting a few milliseconds
 * after the deadline whatever the check does, so a misbehaving check can never hold up
 * the scheduler. Exceptions become `{up: false, reason}`: a check never throws.
 */
import { performance } from 'node:perf_hooks';
import { CHECKS } from './index';
import { timeoutReason } from './reason';
import type { CheckResult, ProbeSpec } from './types';

/** Time a check gets after its deadline to report its own (more precise) reason. */
const GRACE_MS = 25;

export { formatSeconds, timeoutReason } from './reason';

export async function runProbe(spec: ProbeSpec, outer?: AbortSignal): Promise<CheckResult> {
  const start = performance.now();
  const ac = new AbortController();
  // One timer does both jobs: at the deadline it aborts the check, and GRACE_MS later it
  // gives up waiting for a check that did not honour the abort.
  let giveUp!: (r: { up: boolean; reason: string }) => void;
  const backstop = new Promise<{ up: boolean; reason: string }>((resolve) => (giveUp = resolve));
  let settled = false;
  const expire = (reason: string) => {
    if (settled) return;
    if (!ac.signal.aborted) ac.abort(new Error(reason));
    timer = setTimeout(() => giveUp({ up: false, reason }), GRACE_MS);
  };
  // The deadline is judged after the I/O that is already waiting. Node runs due timers
  // before it polls sockets, so on a starved or briefly blocked event loop a deadline
  // timer that fires late would otherwise condemn a server whose answer arrived in time
  // and sits unread in the socket buffer. setImmediate runs after that poll.
  const deadline = () => {
    immediate = setImmediate(() => expire(timeoutReason(spec.timeoutMs)));
  };
  let immediate: NodeJS.Immediate | undefined;
  let timer: NodeJS.Timeout = setTimeout(deadline, spec.timeoutMs);
  const onOuter = () => {
    clearTimeout(timer);
    expire('stopped');
  };
  if (outer?.aborted) onOuter();
  else outer?.addEventListener('abort', onOuter, { once: true });
  try {
    const check = CHECKS[spec.kind] as (s: ProbeSpec, c: { signal: AbortSignal }) => Promise<{ up: boolean; reason: string }>;
    const r = await Promise.race([check(spec, { signal: ac.signal }), backstop]);
    return { up: r.up, reason: r.reason, ms: Math.round(performance.now() - start) };
  } catch (e) {
    return { up: false, reason: errorReason(e), ms: Math.round(performance.now() - start) };
  } finally {
    settled = true;
    clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    outer?.removeEventListener('abort', onOuter);
    // Whatever the check left listening on its signal is told it is over.
    if (!ac.signal.aborted) ac.abort(new Error('done'));
  }
}

/** A short reason for an unexpected error: its code if it has one, else its message. */
export function errorReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object') return err.code ? `${err.syscall ? err.syscall + ' ' : ''}${err.code}` : String(err.message);
  return String(e);
}
