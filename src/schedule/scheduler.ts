/**
 * When each probe runs. One timer per probe; checks never wait on each other.
 *
 * - Period: the probe's checkinterval, with a few percent of jitter each cycle so probes
 *   do not fall into step. The next run is due one period after the previous one
 *   *started*; a check that overruns its period is followed by the next one as soon as it
 *   ends, never overlapped.
 * - First runs: a probe with nothing known yet (a real neither checked nor adopted from the
 *   kernel) runs at once, so a new service is up as soon as its reals answer; its next run
 *   comes at a random point of its period, which spreads the probes over the interval.
 *   A probe whose state is already known (adopted, or kept across a reload) has its first
 *   run at a random point of its period.
 * - A global cap on checks in flight (sized from the open-file limit) queues checks rather
 *   than running out of sockets; queued checks run in due order.
 * - Maintenance files are looked at before a check runs; a real in maintenance is reported
 *   down (forced) without being checked.
 * - checktype=N (combined): N connect checks after each good negotiate check, then a
 *   negotiate again; a failed connect forces a negotiate next (spec §5 item 9).
 */
import type { CheckResult, ProbeSpec } from '../checks/types';
import type { Clock } from './clock';
import type { ProbeDef } from './probes';

export interface SchedulerDeps {
  clock: Clock;
  /** Run one check (checks/run.ts runProbe in the daemon). */
  run: (spec: ProbeSpec, signal: AbortSignal) => Promise<CheckResult>;
  /** Deliver a result. `forced`: maintenance, bypassing failurecount. */
  onResult: (probe: ProbeDef, result: CheckResult, forced: boolean) => void;
  /** Free what a check kept for a probe that is gone (checks/index.ts releaseSpec). */
  release?: (spec: ProbeSpec) => void;
  /** Whether a real is in maintenance (maintenance.ts); absent means never. */
  inMaintenance?: (probe: ProbeDef) => boolean;
  maxInFlight: number;
  /** Fraction of the period, e.g. 0.05 for ±5 %. */
  jitter?: number;
  random?: () => number;
}

interface Slot {
  def: ProbeDef;
  timer: unknown;
  running: boolean;
  queued: boolean;
  /** When the current or last run started. */
  startedAt: number | null;
  /** Due time of the next run. */
  due: number;
  /** combined: connect checks since the last good negotiate (Perl num_connects). */
  numConnects: number;
  /** The first run was scheduled at once (nothing known yet). */
  immediate: boolean;
  /** Aborted when the probe is removed or the scheduler stops (one per probe, not per check). */
  abort: AbortController;
}

const NEGOTIATE_NEXT = 999_999;

export class Scheduler {
  private readonly slots = new Map<string, Slot>();
  private readonly waiting: Slot[] = [];
  private inFlight = 0;
  private stopped = false;
  /** Checks started, and the largest number in flight at once (status, benchmarks). */
  stats = { started: 0, completed: 0, maxInFlight: 0, queued: 0 };

  constructor(private readonly deps: SchedulerDeps) {}

  private rand(): number {
    return (this.deps.random ?? Math.random)();
  }

  get inFlightNow(): number {
    return this.inFlight;
  }

  /**
   * Install a probe plan. Probes whose key is unchanged keep their timers and state;
   * new ones are scheduled (`known(key)`: whether the probe's state is already known);
   * removed ones are cancelled (a running check is aborted).
   */
  setProbes(defs: Map<string, ProbeDef>, known: (key: string) => boolean): { added: number; removed: number; kept: number } {
    let added = 0;
    let removed = 0;
    let kept = 0;
    for (const [key, slot] of this.slots) {
      if (defs.has(key)) continue;
      this.cancel(slot);
      this.slots.delete(key);
      for (const spec of specsOf(slot.def)) this.deps.release?.(spec);
      removed++;
    }
    const now = this.deps.clock.now();
    for (const [key, def] of defs) {
      const slot = this.slots.get(key);
      if (slot) {
        const intervalChanged = slot.def.intervalMs !== def.intervalMs;
        // Same key, same check: keep the spec objects the probe already uses (and whatever
        // the check keeps for them, such as an HTTP connection).
        slot.def = { ...def, watch: slot.def.watch };
        if (intervalChanged && !slot.running && !slot.queued) this.arm(slot, Math.min(slot.due, now + def.intervalMs));
        kept++;
        continue;
      }
      const immediate = !known(key);
      const s: Slot = { def, timer: null, running: false, queued: false, startedAt: null, due: now, numConnects: NEGOTIATE_NEXT, immediate, abort: new AbortController() };
      this.slots.set(key, s);
      this.arm(s, immediate ? now : now + this.rand() * def.intervalMs);
      added++;
    }
    return { added, removed, kept };
  }

  /** Run a probe now (e.g. status asks for a fresh check); no-op if it is running. */
  runNow(key: string): void {
    const s = this.slots.get(key);
    if (s && !s.running && !s.queued) this.arm(s, this.deps.clock.now());
  }

  /** Stop everything: timers cancelled, checks in flight aborted, kept resources freed. */
  stop(): void {
    this.stopped = true;
    for (const s of this.slots.values()) {
      this.cancel(s);
      for (const spec of specsOf(s.def)) this.deps.release?.(spec);
    }
    this.waiting.length = 0;
  }

  private cancel(s: Slot): void {
    if (s.timer !== null) this.deps.clock.clearTimeout(s.timer);
    s.timer = null;
    s.abort.abort();
    s.queued = false;
    const i = this.waiting.indexOf(s);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  private arm(s: Slot, due: number): void {
    if (s.timer !== null) this.deps.clock.clearTimeout(s.timer);
    s.due = due;
    s.timer = this.deps.clock.setTimeout(() => {
      s.timer = null;
      this.ready(s);
    }, Math.max(0, due - this.deps.clock.now()));
  }

  private ready(s: Slot): void {
    if (this.stopped || this.slots.get(s.def.key) !== s) return;
    if (this.inFlight >= this.deps.maxInFlight) {
      s.queued = true;
      this.waiting.push(s);
      this.stats.queued++;
      return;
    }
    void this.start(s);
  }

  private pickSpec(s: Slot): { spec: ProbeSpec | null; negotiate: boolean } {
    const w = s.def.watch;
    switch (w.mode) {
      case 'probe':
        return { spec: w.spec, negotiate: true };
      case 'combined':
        return s.numConnects >= w.every ? { spec: w.negotiate, negotiate: true } : { spec: w.connect, negotiate: false };
      case 'on':
        return { spec: null, negotiate: false };
    }
  }

  private async start(s: Slot): Promise<void> {
    const clock = this.deps.clock;
    s.running = true;
    s.queued = false;
    this.inFlight++;
    this.stats.started++;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.inFlight);
    const startedAt = clock.now();
    s.startedAt = startedAt;
    let result: CheckResult;
    let forced = false;
    if (this.deps.inMaintenance?.(s.def)) {
      result = { up: false, reason: 'Server in maintenance', ms: 0 };
      forced = true;
    } else {
      const { spec, negotiate } = this.pickSpec(s);
      if (spec === null) result = { up: true, reason: 'checktype on', ms: 0 };
      else result = await this.deps.run(spec, s.abort.signal);
      if (s.def.watch.mode === 'combined') {
        if (negotiate) s.numConnects = result.up ? 0 : s.numConnects;
        else s.numConnects = result.up ? s.numConnects + 1 : NEGOTIATE_NEXT;
      }
    }
    this.inFlight--;
    s.running = false;
    this.stats.completed++;
    const current = this.slots.get(s.def.key) === s && !this.stopped;
    if (current) {
      this.deps.onResult(s.def, result, forced);
      const period = s.def.intervalMs;
      const jitter = this.deps.jitter ?? 0.05;
      // After a first run at once, the second comes at a random point of the period,
      // which spreads probes started together over the interval.
      const next = s.immediate
        ? startedAt + period * (0.1 + 0.9 * this.rand())
        : startedAt + period * (1 + jitter * (2 * this.rand() - 1));
      s.immediate = false;
      this.arm(s, Math.max(next, clock.now()));
    }
    this.drain();
  }

  private drain(): void {
    while (this.waiting.length && this.inFlight < this.deps.maxInFlight && !this.stopped) {
      const next = this.waiting.shift()!;
      void this.start(next);
    }
  }
}

function specsOf(def: ProbeDef): ProbeSpec[] {
  const w = def.watch;
  return w.mode === 'probe' ? [w.spec] : w.mode === 'combined' ? [w.negotiate, w.connect] : [];
}
