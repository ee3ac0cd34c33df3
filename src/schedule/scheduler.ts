/**
 * When each probe runs. Checks never wait on each other.
 *
 * - Timing: every probe has a due time; the probes sit in a min-heap by due time, and one
 *   clock timer is armed for the earliest. A timer object per probe per cycle was the
 *   largest source of garbage surviving into the old generation at 10,000 reals (each
 *   lives a whole period), and the heap costs O(log n) per cycle instead.
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
import type { CheckResult } from '../checks/kernel';
import type { ProbeSpec } from '../checks/registry';
import type { Clock } from './clock';
import type { ProbeDef } from './probes';
import { IndexedHeap } from '../util/heap';
import { IN_MAINTENANCE } from './maintenance';

/** The result of a checktype=on "check": up, nothing sent. */
export const CHECKTYPE_ON: CheckResult = { up: true, cause: 'ok', reason: 'checktype on', ms: 0 };

export interface SchedulerDeps {
  clock: Clock;
  /** Run one check (checks/run.ts runProbe in the daemon). */
  run: (spec: ProbeSpec, signal: AbortSignal) => Promise<CheckResult>;
  /** Deliver a result. `forced`: maintenance, bypassing failurecount. */
  onResult: (probe: ProbeDef, result: CheckResult, forced: boolean) => void;
  /** Free what a check kept for a probe that is gone (checks/registry.ts releaseSpec). */
  release?: (spec: ProbeSpec) => void;
  /** Whether a real is in maintenance (maintenance.ts); absent means never. */
  inMaintenance?: (probe: ProbeDef) => boolean;
  maxInFlight: number;
  /** The period before a probe's next check, asked after each result; absent: its intervalMs. */
  periodOf?: (probe: ProbeDef) => number;
  /** Fraction of the period, e.g. 0.05 for ±5 %. */
  jitter?: number;
  random?: () => number;
}

interface Slot {
  def: ProbeDef;
  /** Position in the due-time heap, -1 when not waiting for its time. */
  heapIndex: number;
  /** Arm order, which breaks ties between equal due times (probes armed first run first). */
  seq: number;
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
}

const NEGOTIATE_NEXT = 999_999;
/** Checks started in one turn of the event loop at most (see fire). */
const FIRE_BATCH = 64;
/** Start times are rounded up to this grid (see wake). */
const TICK_MS = 10;

export class Scheduler {
  private readonly slots = new Map<string, Slot>();
  private readonly waiting: Slot[] = [];
  /** Slots waiting for their due time, by (due, arm order). */
  private readonly heap = new IndexedHeap<Slot>((a, b) => a.due < b.due || (a.due === b.due && a.seq < b.seq));
  private armed = 0;
  /** The one clock timer, set for the earliest due time (timerDue). */
  private timer: unknown = null;
  private timerDue = Infinity;
  /** Aborts every check in flight at stop (one signal for all: no per-probe controllers). */
  private readonly halt = new AbortController();
  private inFlight = 0;
  private stopped = false;
  /** No new check starts while held (see hold). */
  private held: unknown = null;
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
   * removed ones are cancelled: never run again, and a check of theirs still in flight
   * ends at its own deadline (sooner, as what it kept is released) and is ignored.
   */
  setProbes(
    defs: Map<string, ProbeDef>,
    known: (key: string) => boolean,
  ): { added: number; removed: number; kept: number } {
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
      const s: Slot = {
        def,
        heapIndex: -1,
        seq: 0,
        running: false,
        queued: false,
        startedAt: null,
        due: now,
        numConnects: NEGOTIATE_NEXT,
        immediate,
      };
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

  /**
   * Start no new check for a moment (checks in flight go on): a reload installing a new
   * plan for 10,000 reals should not share the CPU with the 3,000 checks that fall due
   * meanwhile. Released by release(), and after `maxMs` whatever happens; due probes then
   * start at once (at most FIRE_BATCH a turn).
   */
  hold(maxMs = 1000): void {
    if (this.held !== null || this.stopped) return;
    this.held = this.deps.clock.setTimeout(() => this.release(), maxMs);
    if (this.timer !== null) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    this.timerDue = Infinity;
  }

  release(): void {
    if (this.held === null) return;
    this.deps.clock.clearTimeout(this.held);
    this.held = null;
    this.fire();
  }

  /** Stop everything: timers cancelled, checks in flight aborted, kept resources freed. */
  stop(): void {
    this.stopped = true;
    for (const s of this.slots.values()) {
      this.cancel(s);
      for (const spec of specsOf(s.def)) this.deps.release?.(spec);
    }
    this.waiting.length = 0;
    if (this.timer !== null) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    if (this.held !== null) this.deps.clock.clearTimeout(this.held);
    this.held = null;
    this.halt.abort();
  }

  private cancel(s: Slot): void {
    this.heap.remove(s);
    s.queued = false;
    const i = this.waiting.indexOf(s);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  /** Due at `due`: (re)placed in the heap, and the clock timer moved earlier if needed. */
  private arm(s: Slot, due: number): void {
    s.due = due;
    s.seq = ++this.armed;
    this.heap.upsert(s);
    this.wake();
  }

  /** Keep the one clock timer set for the earliest due time. */
  private wake(): void {
    const first = this.heap.peek();
    if (!first || this.stopped || this.held !== null) return;
    // On a TICK_MS grid: probes due within the same few milliseconds start in one turn,
    // so 2,000 checks a second wake the process 100 times, not 2,000 (each wake-up is a
    // timer-list walk and an epoll round trip, as much CPU as half a check).
    const due = Math.ceil(first.due / TICK_MS) * TICK_MS;
    if (this.timer !== null) {
      if (this.timerDue <= due) return;
      this.deps.clock.clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = this.deps.clock.setTimeout(
      () => {
        this.timer = null;
        this.timerDue = Infinity;
        this.fire();
      },
      Math.max(0, due - this.deps.clock.now()),
    );
  }

  /**
   * Start the probes that are due, at most FIRE_BATCH in one turn of the event loop: after
   * a busy moment hundreds are due at once, and starting them all in one go (each writes
   * to its socket) held the loop for 50-150 ms while the answers to earlier checks waited,
   * which made the next moment busy too. The rest start on the next turn, after I/O.
   */
  private fire(): void {
    if (this.held !== null) return;
    const now = this.deps.clock.now();
    let started = 0;
    for (let s = this.heap.peek(); s && s.due <= now && !this.stopped; s = this.heap.peek()) {
      if (started++ === FIRE_BATCH) {
        this.timerDue = s.due;
        this.timer = this.deps.clock.setTimeout(() => {
          this.timer = null;
          this.timerDue = Infinity;
          this.fire();
        }, 0);
        return;
      }
      this.heap.remove(s);
      this.ready(s);
    }
    this.wake();
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
        return s.numConnects >= w.every
          ? { spec: w.negotiate, negotiate: true }
          : { spec: w.connect, negotiate: false };
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
      result = IN_MAINTENANCE;
      forced = true;
    } else {
      const { spec, negotiate } = this.pickSpec(s);
      if (spec === null) result = CHECKTYPE_ON;
      else result = await this.deps.run(spec, this.halt.signal);
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
      const period = this.deps.periodOf?.(s.def) ?? s.def.intervalMs;
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
