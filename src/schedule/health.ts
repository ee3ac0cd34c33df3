/**
 * Health: what the checks have said, as a pure state machine (no timers, no I/O).
 *
 * Per probe: consecutive failed checks and the last result. Per membership (a real in a
 * virtual): up, down, or pending (not checked yet and not adopted from the kernel).
 *   - One success brings every member of the probe up (no rise counter, as the original),
 *     unless `successcount=N` (an addition): a member that is down then needs N successes
 *     in a row (`rise` before that). A member never checked comes up at its first success.
 *   - A member that comes up from down, or one a reload added, starts a slow-start ramp
 *     (`rampFrom`; its weights are the planner's, policy.ts).
 *   - A failure takes an up member down once the probe has failed `failurecount` checks in
 *     a row (W-9 fixed: checks are counted, not virtuals); before that it is a soft
 *     failure. A forced failure (maintenance) takes it down at once.
 *   - A pending member goes down at its first failure; failures while down are counted
 *     but change nothing.
 */
import type { CheckResult } from '../checks/kernel';
import type { VirtualService } from '../parser/model';
import { memberKey, type Member, type ProbePlan } from './probes';
import { RecentChecks } from './recent';

export type RealState = 'up' | 'down' | 'pending';

export interface MemberView {
  state: RealState;
  /** Placed in the table since the last start or reload (see readdquiescent above). */
  placed: boolean;
  /** When its slow start began (it came up from down, or was added); null or absent: none. */
  rampFrom?: number | null;
}

/** Where a probe stands, for the interval of its next check (failinginterval, downinterval). */
export type ProbePhase = 'healthy' | 'failing' | 'down';

/** Health as the planner sees it: the state of real `i` of virtual `v`. */
export type HealthView = (v: VirtualService, realIndex: number) => MemberView;

export interface ProbeHealth {
  key: string;
  failures: number;
  last: CheckResult | null;
  lastAt: number | null;
  checks: number;
  /** Consecutive successful checks (successcount). */
  successes: number;
  /** The last minutes of results, kept only while Health.keepRecent (the status page). */
  recent: RecentChecks | null;
}

export interface MemberHealth {
  key: string;
  member: Member;
  probe: string | null;
  state: RealState;
  /** Present in the kernel table since the last start or reload (planner, readdquiescent). */
  placed: boolean;
  /** When the state last changed. */
  since: number;
  /** When its slow start began; null: none (see the header). */
  rampFrom: number | null;
  /** Created by a reload (not the first sync): its first up starts a slow start. */
  added: boolean;
}

export type Transition =
  | { kind: 'up'; member: MemberHealth; result: CheckResult; failures: number; from: RealState }
  | { kind: 'down'; member: MemberHealth; result: CheckResult; failures: number; from: RealState; forced: boolean }
  | { kind: 'soft'; member: MemberHealth; result: CheckResult; failures: number }
  | { kind: 'reset'; member: MemberHealth; result: CheckResult; failures: number }
  /** A down member's success that is not yet `successcount` in a row. */
  | { kind: 'rise'; member: MemberHealth; result: CheckResult; successes: number };

const NOT_CHECKED: MemberView = { state: 'pending', placed: false, rampFrom: null };

export class Health {
  readonly probes = new Map<string, ProbeHealth>();
  /** A first plan was adopted: later new memberships are reload additions. */
  private synced = false;
  /** Keep each probe's recent results (RecentChecks): off unless something shows them. */
  keepRecent = false;
  members = new Map<string, MemberHealth>();
  private readonly byProbe = new Map<string, MemberHealth[]>();
  /** Per virtual, its members by real index: the planner's lookups build no key strings. */
  private byVirtual = new Map<VirtualService, (MemberHealth | undefined)[]>();

  /**
   * Adopt a new probe plan (start or reload). Unchanged probes and memberships keep their
   * state; a new membership takes `initial(member)` unless its probe already has a result.
   */
  sync(plan: ProbePlan, initial: (m: Member, probe: string | null) => RealState, now: number): void {
    for (const key of [...this.probes.keys()]) if (!plan.probes.has(key)) this.probes.delete(key);
    for (const key of plan.probes.keys()) {
      if (!this.probes.has(key))
        this.probes.set(key, { key, failures: 0, last: null, lastAt: null, checks: 0, successes: 0, recent: null });
    }
    const next = new Map<string, MemberHealth>();
    for (const [key, m] of plan.members) {
      const old = this.members.get(key);
      if (old && old.probe === m.probe) {
        // The same check of the same real: its state carries over, in the same record.
        old.member = m;
        next.set(key, old);
        continue;
      }
      const p = m.probe ? this.probes.get(m.probe) : undefined;
      let state: RealState;
      if (p?.last) state = p.last.up ? 'up' : 'down';
      else if (old && old.state !== 'pending')
        state = old.state; // the check changed: keep what we knew until it reports
      else state = initial(m, m.probe);
      const added = this.synced && !old;
      next.set(key, { key, member: m, probe: m.probe, state, placed: false, since: now, rampFrom: null, added });
    }
    this.members = next;
    this.synced = true;
    this.byProbe.clear();
    this.byVirtual = new Map();
    for (const mh of this.members.values()) {
      const { v, index } = mh.member;
      let row = this.byVirtual.get(v);
      if (!row) this.byVirtual.set(v, (row = []));
      row[index] = mh;
      if (!mh.probe) continue;
      let list = this.byProbe.get(mh.probe);
      if (!list) this.byProbe.set(mh.probe, (list = []));
      list.push(mh);
    }
  }

  /** Record a check result; returns the transitions it caused, in member order. */
  record(probeKey: string, result: CheckResult, now: number, forced = false): Transition[] {
    const p = this.probes.get(probeKey);
    if (!p) return [];
    p.last = result;
    p.lastAt = now;
    p.checks++;
    if (this.keepRecent) (p.recent ??= new RecentChecks()).add(now, result.up ? 'u' : forced ? 'm' : 'd');
    const out: Transition[] = [];
    const members = this.byProbe.get(probeKey) ?? [];
    if (result.up) {
      const failures = p.failures;
      p.failures = 0;
      p.successes++;
      for (const m of members) {
        if (m.state === 'up') {
          if (failures > 0) out.push({ kind: 'reset', member: m, result, failures });
        } else if (m.state === 'down' && !forced && p.successes < m.member.v.successcount) {
          out.push({ kind: 'rise', member: m, result, successes: p.successes });
        } else {
          out.push({ kind: 'up', member: m, result, failures, from: m.state });
          // A pending member keeps a ramp restored from the state file (a restart mid-ramp).
          m.rampFrom = m.state === 'down' || m.added ? now : m.state === 'pending' ? m.rampFrom : null;
          m.added = false;
          m.state = 'up';
          m.since = now;
        }
      }
      return out;
    }
    p.successes = 0;
    p.failures++;
    for (const m of members) {
      const limit = m.member.v.failurecount;
      if (m.state === 'up' && !forced && p.failures < limit) {
        out.push({ kind: 'soft', member: m, result, failures: p.failures });
      } else if (m.state !== 'down') {
        out.push({ kind: 'down', member: m, result, failures: p.failures, from: m.state, forced });
        m.state = 'down';
        m.since = now;
      }
    }
    return out;
  }

  /**
   * The planner's view. A real listed twice in one virtual has one membership, under its
   * first index; later copies are looked up by key.
   */
  view(): HealthView {
    return (v, i) => {
      const m = this.byVirtual.get(v)?.[i] ?? this.members.get(memberKey(v, v.reals[i]!));
      return m ?? NOT_CHECKED;
    };
  }

  /**
   * failing: the probe's last results disagree with its members' state (soft failures of an
   * up member, or successes of a down one short of successcount); down: its members are down;
   * else healthy (or not checked yet).
   */
  phase(probeKey: string): ProbePhase {
    const p = this.probes.get(probeKey);
    const members = this.byProbe.get(probeKey);
    if (!p || !members?.length) return 'healthy';
    const anyUp = members.some((m) => m.state === 'up');
    if (anyUp) return p.failures > 0 ? 'failing' : 'healthy';
    if (members.every((m) => m.state === 'down')) return p.successes > 0 ? 'failing' : 'down';
    return 'healthy';
  }

  membersOf(probeKey: string): readonly MemberHealth[] {
    return this.byProbe.get(probeKey) ?? [];
  }
}
