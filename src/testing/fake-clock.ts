/**
 * A clock that only moves when told to, for the scheduler, engine and alert tests and the
 * soak benchmark: hours of checking run in milliseconds. Timers fire in due order (then
 * creation order) during advance().
 */
import type { Clock } from '../schedule/clock';
import { IndexedHeap } from '../util/heap';

interface Timer {
  due: number;
  seq: number;
  fn: () => void;
  heapIndex: number;
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly heap = new IndexedHeap<Timer>((a, b) => a.due < b.due || (a.due === b.due && a.seq < b.seq));
  private readonly timers = new Map<number, Timer>();

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer: Timer = { due: this.t + Math.max(0, ms), seq: ++this.seq, fn, heapIndex: -1 };
    this.timers.set(timer.seq, timer);
    this.heap.upsert(timer);
    return timer.seq;
  }

  clearTimeout(handle: unknown): void {
    const timer = typeof handle === 'number' ? this.timers.get(handle) : undefined;
    if (!timer) return;
    this.timers.delete(timer.seq);
    this.heap.remove(timer);
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /**
   * Move time forward by `ms`, firing due timers in order; between timers, pending
   * promise callbacks run (so async work started by a timer can settle).
   */
  async advance(ms: number, opts: { flushEvery?: number } = {}): Promise<void> {
    const end = this.t + ms;
    let unflushed = 0;
    await flush();
    for (;;) {
      const next = this.heap.peek();
      if (!next || next.due > end) {
        // Work started by the timers fired since the last flush may still set a timer due
        // before `end` (a probe re-arms the scheduler when its check settles): settle it
        // before deciding that nothing is left to fire.
        if (unflushed === 0) break;
        unflushed = 0;
        await flush();
        continue;
      }
      this.heap.pop();
      this.timers.delete(next.seq);
      this.t = next.due;
      next.fn();
      if (++unflushed >= (opts.flushEvery ?? 1)) {
        unflushed = 0;
        await flush();
      }
    }
    this.t = end;
    await flush();
  }
}

/** Let every queued promise callback run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}
