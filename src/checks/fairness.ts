/**
 * Fair share of the event loop for what real servers send.
 *
 * libuv reads a socket up to 32 times per readiness event, so a hundred reals that answer
 * with a megabyte each at the same moment are all read, parsed and matched in one pass of
 * the event loop: half a second in which no timer fires and no other check starts. Every
 * reader that does work per received chunk (the HTTP exchange: parsing, the receive
 * matcher) goes through a FairReader: once the work of this turn passes TURN_BUDGET_MS,
 * chunks wait (the socket paused) and are worked on in the next turns, after the timers
 * have run. A busy real then slows only itself (its own deadline still bounds it), never
 * the start of another check.
 */
import { performance } from 'node:perf_hooks';

/** Work on received bytes allowed in one turn of the event loop before readers wait. */
export const TURN_BUDGET_MS = 5;

let spent = 0;
let turnStarted = false;
/** Readers waiting for the next turn, in the order they had to wait. */
let waiting: FairReader[] = [];
let resumeScheduled = false;

function startTurn(): void {
  if (turnStarted) return;
  turnStarted = true;
  // The turn ends when the event loop comes round to its timers again.
  setTimeout(() => {
    turnStarted = false;
    spent = 0;
  }, 0);
}

function scheduleResume(): void {
  if (resumeScheduled) return;
  resumeScheduled = true;
  setTimeout(() => {
    resumeScheduled = false;
    spent = 0;
    const now = waiting;
    waiting = [];
    for (const r of now) r.drain();
  }, 0);
}

interface Pausable {
  pause(): unknown;
  resume(): unknown;
  readonly destroyed: boolean;
}

/** A stream's chunks, worked on within the event loop's fair share. */
export class FairReader {
  private backlog: Buffer[] = [];
  private closed = false;
  /** In `waiting` already. */
  private queued = false;
  /** What to do once the backlog is worked off: the stream has ended. */
  private ending: (() => void) | null = null;

  constructor(
    private readonly stream: Pausable,
    private readonly work: (chunk: Buffer) => void,
  ) {}

  /** A chunk arrived: work on it now, or in a later turn if this one's budget is spent. */
  push(chunk: Buffer): void {
    if (this.closed) return;
    if (this.backlog.length || spent > TURN_BUDGET_MS) {
      // A copy: the chunk may be a view of a read buffer that the next read reuses.
      this.backlog.push(Buffer.from(chunk));
      this.wait();
      return;
    }
    this.run(chunk);
  }

  /**
   * The stream ended (or closed): `then` runs once every chunk before it has been worked
   * on, now or in a later turn.
   */
  end(then: () => void): void {
    if (this.closed) return;
    if (this.backlog.length) this.ending ??= then;
    else then();
  }

  /** No more work: what waits is dropped. */
  close(): void {
    this.closed = true;
    this.backlog = [];
  }

  /** Work on what waits, as far as the budget goes; resume reading once it is all done. */
  drain(): void {
    this.queued = false;
    while (!this.closed && this.backlog.length && spent <= TURN_BUDGET_MS) this.run(this.backlog.shift()!);
    if (this.closed) return;
    if (this.backlog.length) this.wait();
    else if (this.ending) this.ending();
    else if (!this.stream.destroyed) this.stream.resume();
  }

  private wait(): void {
    if (!this.stream.destroyed) this.stream.pause();
    if (!this.queued) {
      this.queued = true;
      waiting.push(this);
    }
    scheduleResume();
  }

  private run(chunk: Buffer): void {
    startTurn();
    const t0 = performance.now();
    this.work(chunk);
    spent += performance.now() - t0;
  }
}
