/**
 * Run one probe with a hard deadline: the kernel's part that every check runs under.
 *
 * The deadline is an AbortSignal handed to the check, which must tear its socket or child
 * process down when it fires. As a safety net the runner stops waiting a few milliseconds
 * after the deadline whatever the check does, so a misbehaving check can never hold up
 * the scheduler. Exceptions become a down verdict: a check never throws. Every reason
 * leaves here on one line, bounded, with control characters escaped, whatever a check
 * or the server it talked to put in it.
 */
import { getEventListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { oneLine } from '../text/untrusted';
import { failed, timeoutReason, type Cause, type CheckContext, type CheckResult, type Verdict } from './kernel';
import { kindOf, type ProbeSpec } from './registry';

/** Time a check gets after its deadline to report its own (more precise) reason. */
const GRACE_MS = 25;
/** The reason a finished check's signal carries (one object: an Error costs a stack trace). */
const DONE = new Error('done');

/**
 * What a check runs under: its AbortController, the context it is given and the hook a
 * check may register (CheckContext.onAbort). Kept in a pool shared by all probes:
 * creating an AbortSignal costs about 4 µs in Node 20 (and garbage), a tenth of a
 * kept-alive HTTP check, and each signal that ever had a listener carries its own hidden
 * class and event maps (about 1 KiB): one kept per probe was 10 MiB at 10,000 reals. A
 * controller goes back to the pool only when its check ended with it unaborted and
 * nothing listening on it, so the next check, of whatever probe, gets a signal
 * indistinguishable from a new one. The pool only needs to cover the checks in flight
 * at once, which comes in bursts when the event loop was busy for a moment (10,000
 * checks a second make 1,000 due in a tenth of a second).
 */
class Lease {
  readonly ac = new AbortController();
  hook: ((reason: Error) => void) | null = null;
  readonly ctx: CheckContext = {
    signal: this.ac.signal,
    onAbort: (fn) => {
      this.hook = fn;
    },
  };
}
const pool: Lease[] = [];
const POOL_MAX = 4096;

/**
 * Checks following an outer signal (the scheduler's stop): one real listener per outer
 * signal, and a set of the checks in flight, instead of a listener added and removed on
 * the shared signal by every check.
 */
const followers = new WeakMap<AbortSignal, Set<Run>>();

function follow(outer: AbortSignal, run: Run): void {
  let set = followers.get(outer);
  if (!set) {
    const mine = new Set<Run>();
    followers.set(outer, (set = mine));
    outer.addEventListener(
      'abort',
      () => {
        for (const r of [...mine]) r.stop();
        mine.clear();
      },
      { once: true },
    );
  }
  set.add(run);
}

/**
 * One run of a check: the state the runner keeps while it is in flight. Its steps are
 * methods and its timers take it as their argument, so a run allocates no closures of
 * its own.
 */
class Run {
  private settled = false;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  resolve!: (r: CheckResult) => void;

  constructor(
    readonly spec: ProbeSpec,
    readonly lease: Lease,
    readonly outer: AbortSignal | undefined,
    readonly start: number,
  ) {}

  begin(): void {
    const { spec, outer } = this;
    this.timer = setTimeout(onDeadline, spec.timeoutMs, this);
    if (outer?.aborted) return this.stop();
    if (outer) follow(outer, this);
    let pending: Promise<Verdict>;
    try {
      pending = kindOf(spec).run(spec, this.lease.ctx);
    } catch (e) {
      return this.settle(failed(e));
    }
    pending.then(
      (v) => this.settle(v),
      (e: unknown) => this.settle(failed(e)),
    );
  }

  /**
   * The deadline is judged after the I/O that is already waiting. Node runs due timers
   * before it polls sockets, so on a starved or briefly blocked event loop a deadline
   * timer that fires late would otherwise condemn a server whose answer arrived in time
   * and sits unread in the socket buffer. setImmediate runs after that poll.
   */
  deadline(): void {
    this.timer = undefined;
    this.immediate = setImmediate(onDue, this);
  }

  /** At the deadline the check is aborted, and GRACE_MS later the runner stops waiting. */
  expire(reason: string): void {
    this.immediate = undefined;
    if (this.settled) return;
    const { ac } = this.lease;
    if (!ac.signal.aborted) {
      const err = new Error(reason);
      ac.abort(err);
      const hook = this.lease.hook;
      this.lease.hook = null;
      hook?.(err);
    }
    this.timer = setTimeout(onGrace, GRACE_MS, this, reason);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.expire('stopped');
  }

  settle(v: Verdict): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    if (this.outer) followers.get(this.outer)?.delete(this);
    const lease = this.lease;
    lease.hook = null;
    if (!lease.ac.signal.aborted) {
      // Whatever the check left listening on its signal is told it is over; a clean
      // lease goes back to the pool for another check.
      if (getEventListeners(lease.ac.signal, 'abort').length > 0) lease.ac.abort(DONE);
      else if (pool.length < POOL_MAX) pool.push(lease);
    }
    this.resolve({
      up: v.up,
      cause: v.cause,
      reason: oneLine(v.reason),
      ms: Math.round(performance.now() - this.start),
    });
  }
}

function onDeadline(run: Run): void {
  run.deadline();
}
function onDue(run: Run): void {
  run.expire(timeoutReason(run.spec.timeoutMs));
}
function onGrace(run: Run, reason: string): void {
  const cause: Cause = reason === 'stopped' ? 'stopped' : 'timeout';
  run.settle({ up: false, cause, reason });
}

/**
 * Run one check with a hard deadline; `outer` (the scheduler's stop) ends it early.
 * Never rejects.
 */
export function runProbe(spec: ProbeSpec, outer?: AbortSignal): Promise<CheckResult> {
  const run = new Run(spec, pool.pop() ?? new Lease(), outer, performance.now());
  const done = new Promise<CheckResult>((resolve) => (run.resolve = resolve));
  run.begin();
  return done;
}
