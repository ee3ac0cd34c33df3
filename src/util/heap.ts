/**
 * A binary min-heap whose items know their place (`heapIndex`, -1 when out of the heap), so
 * an item can be removed or moved in O(log n) without a search. The scheduler keeps its
 * probes' due times in one, the test clock its timers.
 */
export interface HeapItem {
  heapIndex: number;
}

export class IndexedHeap<T extends HeapItem> {
  private readonly items: T[] = [];

  /** `before(a, b)`: a comes out first. */
  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** Insert, or re-place an item already in the heap after its key changed. */
  upsert(x: T): void {
    if (x.heapIndex < 0) {
      x.heapIndex = this.items.length;
      this.items.push(x);
    }
    this.siftUp(x.heapIndex);
    this.siftDown(x.heapIndex);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top) this.remove(top);
    return top;
  }

  remove(x: T): void {
    const i = x.heapIndex;
    if (i < 0) return;
    x.heapIndex = -1;
    const last = this.items.pop()!;
    if (last === x) return;
    this.place(i, last);
    this.siftUp(i);
    this.siftDown(last.heapIndex);
  }

  private place(i: number, x: T): void {
    this.items[i] = x;
    x.heapIndex = i;
  }

  private siftUp(i: number): void {
    const h = this.items;
    const x = h[i]!;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!this.before(x, h[up]!)) break;
      this.place(i, h[up]!);
      i = up;
    }
    this.place(i, x);
  }

  private siftDown(i: number): void {
    const h = this.items;
    const x = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const c = l + 1 < h.length && this.before(h[l + 1]!, h[l]!) ? l + 1 : l;
      if (!this.before(h[c]!, x)) break;
      this.place(i, h[c]!);
      i = c;
    }
    this.place(i, x);
  }
}
