/**
 * Run one probe with a hard deadline.
 *
 * The deadline is an AbortSignal handed to the check, which must tear its socket or child
 * process down when it fires. As a safety net the runner stops waiting a few milliseconds
 * after the deadline whatever the check does, so a misbehaving check can never hold up
 * the scheduler. Exceptions become `{up: false, reason}`: a check never throws.
 */
import { getEventListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { CHECKS } from './index';
import { timeoutReason } from './reason';
import type { CheckResult, ProbeSpec } from './types';

/** Time a check gets after its deadline to report its own (more precise) reason. */
const GRACE_MS = 25;
/** The reason a finished check's signal carries (one object: an Error costs a stack trace). */
const DONE = new Error('done');

export { formatSeconds, timeoutReason } from './reason';

/**
 * A probe's idle AbortController, kept for its next check. Creating an AbortSignal costs
 * about 4 µs in Node 20 (and garbage), a tenth of a kept-alive HTTP check. A controller is
 * only kept when its check ended with it unaborted and nothing listening on it, so the
 * next check of the same probe gets a signal indistinguishable from a new one. Taken out
 * while a check runs, so two concurrent runs of one spec never share it.
 */
const idle = new WeakMap<ProbeSpec, AbortController>();

type Check = (s: ProbeSpec, c: { signal: AbortSignal }) => Promise<{ up: boolean; reason: string }>;

export function runProbe(spec: ProbeSpec, outer?: AbortSignal): Promise<CheckResult> {
  const start = performance.now();
  let ac = idle.get(spec);
  if (ac) idle.delete(spec);
  else ac = new AbortController();
  const signal = ac.signal;
  return new Promise<CheckResult>((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let immediate: NodeJS.Immediate | undefined;
    const settle = (up: boolean, reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      outer?.removeEventListener('abort', onOuter);
      if (!signal.aborted) {
        // Whatever the check left listening on its signal is told it is over; a clean
        // controller is kept for the probe's next check.
        if (getEventListeners(signal, 'abort').length > 0) ac.abort(DONE);
        else idle.set(spec, ac);
      }
      resolve({ up, reason, ms: Math.round(performance.now() - start) });
    };
    // At the deadline the check is aborted, and GRACE_MS later the runner stops waiting
    // for a check that did not honour the abort.
    const expire = (reason: string) => {
      if (settled) return;
      if (!signal.aborted) ac.abort(new Error(reason));
      timer = setTimeout(() => settle(false, reason), GRACE_MS);
    };
    // The deadline is judged after the I/O that is already waiting. Node runs due timers
    // before it polls sockets, so on a starved or briefly blocked event loop a deadline
    // timer that fires late would otherwise condemn a server whose answer arrived in time
    // and sits unread in the socket buffer. setImmediate runs after that poll.
    timer = setTimeout(() => {
      immediate = setImmediate(() => expire(timeoutReason(spec.timeoutMs)));
    }, spec.timeoutMs);
    const onOuter = () => {
      clearTimeout(timer);
      expire('stopped');
    };
    if (outer?.aborted) onOuter();
    else outer?.addEventListener('abort', onOuter, { once: true });
    let pending: Promise<{ up: boolean; reason: string }>;
    try {
      pending = (CHECKS[spec.kind] as Check)(spec, { signal });
    } catch (e) {
      return settle(false, errorReason(e));
    }
    pending.then(
      (r) => settle(r.up, r.reason),
      (e: unknown) => settle(false, errorReason(e)),
    );
  });
}

/** A short reason for an unexpected error: its code if it has one, else its message. */
export function errorReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object') return err.code ? `${err.syscall ? err.syscall + ' ' : ''}${err.code}` : String(err.message);
  return String(e);
}
