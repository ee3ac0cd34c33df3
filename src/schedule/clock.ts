/**
 * Time, injected: the daemon uses the real clock, the scheduler tests a fake one that
 * advances instantly, so hours of checking run in milliseconds.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * A clock that only moves when told to. Timers fire in due order (then creation order)
 * during advance(); a binary heap keeps that cheap with thousands of timers (the soak
 * benchmark runs an hour of 2,000 probes).
 */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private heap: Array<{ due: number; seq: number; fn: () => void }> = [];
  private cancelled = new Set<number>();
  private live = 0;

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.push({ due: this.t + Math.max(0, ms), seq: id, fn });
    this.live++;
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number' && handle <= this.seq && !this.cancelled.has(handle)) {
      this.cancelled.add(handle);
      this.live--;
    }
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.live;
  }

  private less(a: { due: number; seq: number }, b: { due: number; seq: number }): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(x: { due: number; seq: number; fn: () => void }): void {
    const h = this.heap;
    h.push(x);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): { due: number; seq: number; fn: () => void } | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length && last) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
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
      while (this.heap.length && this.cancelled.has(this.heap[0]!.seq)) this.cancelled.delete(this.pop()!.seq);
      const next = this.heap[0];
      if (!next || next.due > end) {
        // Work started by the timers fired since the last flush may still set a timer due
        // before `end` (a probe re-arms the scheduler when its check settles): settle it
        // before deciding that nothing is left to fire.
        if (unflushed === 0) break;
        unflushed = 0;
        await flush();
        continue;
      }
      this.pop();
      this.live--;
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
