/**
 * A bounded-frequency runner (after kube-proxy's pkg/util/async/bounded_frequency_runner.go):
 * "when to run" for work that must follow requests but never pile up.
 *
 *   - a request runs the work soon: at once after a quiet spell, else `minGapMs` after the
 *     start of the previous requested run, so a burst of requests is a few runs, not one
 *     each (the periodic runs and the urgent ones of runNow() do not delay a request);
 *   - requests during a run lead to exactly one more run after it;
 *   - the work runs by itself at least every `periodMs` (a resync), counted from the start
 *     of the last run;
 *   - a run that fails is retried after `retryMs`, doubling up to the period, until one
 *     succeeds (a request still runs at the usual gap meanwhile).
 *
 * One primitive, used by the engine for reconciles and by the daemon for reloads and for
 * watching the config file; its timers take an injected clock, so its tests run in fake
 * time (test/schedule/runner.test.ts).
 */
import type { Clock } from './clock';

/** Why a run happens. */
export type RunReason = 'requested' | 'periodic' | 'retry';

export interface BoundedRunnerOptions {
  clock: Clock;
  /** The work. Resolves false when it failed (it is then retried); must not reject. */
  run: (why: RunReason) => Promise<boolean>;
  /** Least time between the starts of two runs. */
  minGapMs: number;
  /** Run at least this often (read when the next run is planned); 0: only on request. */
  periodMs: () => number;
  /** First retry after a failed run (default: the period, i.e. no sooner than a resync). */
  retryMs?: number;
  /** Wait this long after a request before running it (a file written in several steps). */
  settleMs?: number;
}

export class BoundedRunner {
  private running: Promise<void> | null = null;
  private requested = false;
  /** The pending request wants no gap (runNow). */
  private urgent = false;
  private waiters: Array<() => void> = [];
  private timer: unknown = null;
  private timerDue = Infinity;
  /** When the last run started (the period counts from it). */
  private lastStart = -Infinity;
  /** When the last requested run started (the gap counts from it). */
  private lastRequested = -Infinity;
  private requestedAt = -Infinity;
  private failures = 0;
  private retryDue = Infinity;
  /** When start() was called: the periodic runs count from it until the first run. */
  private startedAt: number | null = null;
  private stopped = false;
  /** Runs so far, by reason (status, tests). */
  readonly stats = { requested: 0, periodic: 0, retry: 0 };

  constructor(private readonly o: BoundedRunnerOptions) {}

  /** Begin the periodic runs (the first one period after now, or after the first run). */
  start(): void {
    this.startedAt = this.o.clock.now();
    this.plan();
  }

  /** Ask for a run. Resolves once a run that started after this call has ended (or at stop). */
  request(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (!this.requested) this.requestedAt = this.o.clock.now();
    this.requested = true;
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.plan();
    return done;
  }

  /**
   * Run now, without waiting for the gap (a start or a reload, which the caller awaits):
   * at once when idle, else right after the run in progress. Resolves when it has run.
   */
  runNow(): Promise<void> {
    this.urgent = true;
    return this.request();
  }

  /** No more runs; waits for the one in progress. Pending requests resolve. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.running;
    this.release();
  }

  /** Whether a run is in progress. */
  get busy(): boolean {
    return this.running !== null;
  }

  /** Keep the one timer set for the earliest run due. */
  private plan(): void {
    if (this.stopped || this.running) return;
    if (this.requested && this.urgent) {
      this.clearTimer();
      return this.fire();
    }
    const { minGapMs, settleMs = 0 } = this.o;
    let due = Infinity;
    if (this.requested) due = Math.max(this.lastRequested + minGapMs, this.requestedAt + settleMs);
    due = Math.min(due, this.retryDue);
    const period = this.o.periodMs();
    if (this.startedAt !== null && period > 0) due = Math.min(due, Math.max(this.lastStart, this.startedAt) + period);
    if (due === Infinity) return;
    if (this.timer !== null && this.timerDue <= due) return;
    this.clearTimer();
    this.timerDue = due;
    this.timer = this.o.clock.setTimeout(() => this.fire(), Math.max(0, due - this.o.clock.now()));
  }

  private clearTimer(): void {
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    this.timerDue = Infinity;
  }

  private fire(): void {
    this.timer = null;
    this.timerDue = Infinity;
    if (this.stopped || this.running) return;
    const now = this.o.clock.now();
    const why: RunReason = this.requested ? 'requested' : this.retryDue <= now ? 'retry' : 'periodic';
    this.stats[why]++;
    if (why === 'requested' && !this.urgent) this.lastRequested = now;
    this.requested = false;
    this.urgent = false;
    const waiters = this.waiters;
    this.waiters = [];
    this.lastStart = now;
    this.retryDue = Infinity;
    this.running = this.o
      .run(why)
      .catch(() => false)
      .then((ok) => {
        this.failures = ok ? 0 : this.failures + 1;
        if (!ok) {
          const period = this.o.periodMs() || 60_000;
          const first = this.o.retryMs ?? period;
          this.retryDue = this.o.clock.now() + Math.min(period, first * 2 ** (this.failures - 1));
        }
        this.running = null;
        for (const w of waiters) w();
        this.plan();
      });
  }

  private release(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
