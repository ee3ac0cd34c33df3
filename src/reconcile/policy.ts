/**
 * Pool policy beyond the original (all opt-in directives; README "Pool policy"), as pure
 * functions of the time and the reals' states, for the planner:
 *
 *   - slow start: a real that came back ramps its weight over `slowstart` seconds in at
 *     most SLOWSTART_STEPS steps (one `ipvsadm -e` each), then runs at its weight;
 *   - panic: when fewer than `panicthreshold` % of a virtual's reals are up (all of them
 *     checked), every real is kept in service at its weight instead of emptying the pool;
 *   - drain: an operator's `drain` holds a real at weight 0 until its connections end or
 *     its deadline passes, then leaves it out until `undrain`.
 *
 * Precedence, strongest first: drain, then health with panic, then slow start (a ramping
 * real is up), then quiescent and the fallback (which panic keeps out: the reals serve).
 */
import type { RealState } from '../schedule/health';

/** The most weight changes a slow start makes before the configured weight. */
export const SLOWSTART_STEPS = 10;

export interface Ramp {
  weight: number;
  /** When the weight changes next; null once at the configured weight. */
  nextAt: number | null;
}

/**
 * The weight of a real `rampFrom` ms into a slow start of `seconds`: step k of n (n = at
 * most SLOWSTART_STEPS, and at most the weight) is weight × (k + 1) / (n + 1), at least 1.
 */
export function slowStartWeight(weight: number, rampFrom: number | null, now: number, seconds: number): Ramp {
  const total = seconds * 1000;
  if (rampFrom === null || total <= 0 || weight <= 1 || now - rampFrom >= total) return { weight, nextAt: null };
  const steps = Math.min(SLOWSTART_STEPS, weight);
  const k = Math.max(0, Math.floor(((now - rampFrom) * steps) / total));
  return {
    weight: Math.max(1, Math.round((weight * (k + 1)) / (steps + 1))),
    nextAt: rampFrom + Math.ceil(((k + 1) * total) / steps),
  };
}

/**
 * Whether a virtual is in panic: a threshold is set, every real has been checked, and the
 * share of reals up is under it.
 */
export function inPanic(thresholdPercent: number, states: readonly RealState[]): boolean {
  if (thresholdPercent <= 0 || !states.length || states.includes('pending')) return false;
  const up = states.filter((s) => s === 'up').length;
  return up * 100 < thresholdPercent * states.length;
}

/** An operator's drain of one real in one virtual (kept in the state file across restarts). */
export interface Drain {
  /** When it was asked for, and when it ends whatever the connections say (epoch ms). */
  since: number;
  deadline: number;
  /** draining: at weight 0, connections still open; drained: out of the table. */
  phase: 'draining' | 'drained';
}

/** What the daemon's state file keeps (per member key): drains, and slow starts under way. */
export interface PolicyState {
  drains: Record<string, Drain>;
  ramps: Record<string, number>;
}
