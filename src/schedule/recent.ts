/**
 * The last minutes of one probe's check results, one cell per check, for the status page's
 * strip (a flapping real shows as a striped cell row at a glance).
 *
 * Kept only when something shows it (Health.keepRecent): a ring of codes and times that
 * grows by doubling up to MAX_CELLS, so a probe checked every 5 s holds 120 cells, not 600.
 */

/** How far back the strip reaches. */
export const RECENT_WINDOW_MS = 10 * 60_000;
/** The most cells kept per probe (a probe checked more often than every second shows fewer minutes). */
export const MAX_CELLS = 600;

/** u: up, d: down, m: forced down by a maintenance file (no check ran). */
export type RecentCode = 'u' | 'd' | 'm';
const CODES: readonly RecentCode[] = ['u', 'd', 'm'];

export class RecentChecks {
  private codes = new Uint8Array(16);
  private times = new Float64Array(16);
  /** Index of the oldest cell, and how many cells there are. */
  private head = 0;
  private count = 0;

  add(at: number, code: RecentCode): void {
    if (this.count === this.codes.length && this.codes.length < MAX_CELLS) this.grow();
    const cap = this.codes.length;
    const slot = (this.head + this.count) % cap;
    this.codes[slot] = CODES.indexOf(code);
    this.times[slot] = at;
    if (this.count < cap) this.count++;
    else this.head = (this.head + 1) % cap;
  }

  /** The cells of the window ending at `now`, oldest first, as one string of codes. */
  cells(now: number): string {
    const cap = this.codes.length;
    const from = now - RECENT_WINDOW_MS;
    let out = '';
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) % cap;
      if (this.times[slot]! > from) out += CODES[this.codes[slot]!];
    }
    return out;
  }

  private grow(): void {
    const size = Math.min(MAX_CELLS, this.codes.length * 2);
    const codes = new Uint8Array(size);
    const times = new Float64Array(size);
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) % this.codes.length;
      codes[i] = this.codes[slot]!;
      times[i] = this.times[slot]!;
    }
    this.codes = codes;
    this.times = times;
    this.head = 0;
  }
}
