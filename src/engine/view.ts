/**
 * The read model: every virtual, every real, its configuration, its health with the
 * typed cause of its last check, its entry in the kernel, and the fallback, joined in one
 * place from the engine's state. `status -v`, `show --json`, the metrics, the status page
 * and dry-run's summary all render this value; nothing else joins config, health and table.
 *
 * It is JSON as it stands (times are ISO strings), so the status socket sends it as is and
 * `show --json` prints it: one spelling of every field.
 */
import type { Cause } from '../checks/kernel';
import { hostPort, protocolOf, virtualLabel, type Protocol, type VirtualService } from '../parser/model';
import { kernelDestKey, serviceIdOf } from '../reconcile/plan';
import type { Service } from '../reconcile/table';
import type { Health, MemberHealth } from '../schedule/health';
import { memberKey } from '../schedule/probes';
import type { RealState } from '../schedule/health';
import type { Drain } from '../reconcile/policy';

export interface RealView {
  /** `10.0.0.2:80`, `[2001:db8::2]:80`. */
  real: string;
  state: RealState;
  /** The configured weight. */
  weight: number;
  /** The weight in the kernel table; null when the kernel does not hold the real. */
  kernelWeight: number | null;
  /** In the kernel at weight 0 while down (quiescent=yes). */
  quiesced: boolean;
  inMaintenance: boolean;
  /** The last check: when (ISO), how long, why, and its cause; null before the first. */
  lastCheck: string | null;
  lastMs: number | null;
  lastReason: string | null;
  lastCause: Cause | null;
  /** Consecutive failed checks. */
  failures: number;
  /** When the state last changed (ISO). */
  since: string;
  /**
   * The checks of the last 10 minutes, oldest first, one letter each: u up, d down,
   * m maintenance. Null unless the daemon keeps them (the status page is on).
   */
  recent: string | null;
  /** An operator's drain (policy.ts): draining at weight 0, or drained out; null: none. */
  drain: { phase: 'draining' | 'drained'; since: string; deadline: string } | null;
  /** Up and ramping its weight (slowstart=) until this time (ISO); null: not ramping. */
  slowStartUntil: string | null;
}

export interface FallbackView {
  server: string;
  /** The fallback is wanted: no real of the virtual is up. */
  active: boolean;
  inKernel: boolean;
  kernelWeight: number | null;
}

export interface VirtualView {
  /** Perl's virtual id: `tcp:10.0.0.1:80`, `fwm:5`. */
  id: string;
  /** How ipvsadm and the log lines name it: `10.0.0.1:80`, or the fwmark. */
  service: string;
  protocol: Protocol;
  scheduler: string;
  quiescent: boolean;
  inKernel: boolean;
  /** Reals up, and reals in all. */
  healthy: number;
  total: number;
  reals: RealView[];
  fallback: FallbackView | null;
  /** Fewer reals up than panicthreshold: every real kept in service (policy.ts). */
  panic: boolean;
  /** quorum=: reached or not, and the configured weight of the reals up; null: no quorum set. */
  quorum: { reached: boolean; weightUp: number; quorum: number; hysteresis: number } | null;
}

/** What the read model is built from: the config, the health, the last kernel table read. */
export interface ViewSource {
  virtuals: readonly VirtualService[];
  health: Health;
  table: ReadonlyMap<string, Service> | null;
  /** When the engine started (a real never checked has been in its state since then). */
  startedAt: number;
  now: number;
  /** The engine's pool policy state (absent in a dry-run's summary: none). */
  policy?: {
    drains: ReadonlyMap<string, Drain>;
    panicking: ReadonlySet<string>;
    quorate: ReadonlyMap<string, boolean>;
  };
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export function viewOf(src: ViewSource): VirtualView[] {
  return src.virtuals.map((v) => virtualView(v, src));
}

function virtualView(v: VirtualService, src: ViewSource): VirtualView {
  const svc = src.table?.get(serviceIdOf(v).key);
  const reals = v.reals.map((r): RealView => {
    const mh: MemberHealth | undefined = src.health.members.get(memberKey(v, r));
    const p = mh?.probe ? src.health.probes.get(mh.probe) : undefined;
    const dest = svc?.dests.get(kernelDestKey(v, r.address, r.port, r.forward));
    const state = mh?.state ?? 'pending';
    const last = p?.last ?? null;
    const drain = src.policy?.drains.get(memberKey(v, r));
    const rampEnd = mh?.rampFrom != null && v.slowstart > 0 ? mh.rampFrom + v.slowstart * 1000 : null;
    return {
      real: hostPort(r.address, r.port),
      state,
      weight: r.weight,
      kernelWeight: dest ? dest.weight : null,
      quiesced: state !== 'up' && dest?.weight === 0,
      inMaintenance: last?.cause === 'maintenance',
      lastCheck: iso(p?.lastAt ?? null),
      lastMs: last?.ms ?? null,
      lastReason: last?.reason ?? (v.checktype === 'off' ? 'checktype off' : null),
      lastCause: last?.cause ?? null,
      failures: p?.failures ?? 0,
      since: iso(mh?.since ?? src.startedAt)!,
      recent: src.health.keepRecent ? (p?.recent?.cells(src.now) ?? '') : null,
      drain: drain ? { phase: drain.phase, since: iso(drain.since)!, deadline: iso(drain.deadline)! } : null,
      slowStartUntil: state === 'up' && rampEnd !== null && rampEnd > src.now ? iso(rampEnd) : null,
    };
  });
  const healthy = reals.filter((r) => r.state === 'up').length;
  let fallback: FallbackView | null = null;
  if (v.fallback) {
    const dest = svc?.dests.get(kernelDestKey(v, v.fallback.address, v.fallback.port, v.fallback.forward));
    fallback = {
      server: hostPort(v.fallback.address, v.fallback.port),
      active: healthy === 0,
      inKernel: Boolean(dest),
      kernelWeight: dest?.weight ?? null,
    };
  }
  return {
    id: v.id,
    service: virtualLabel(v),
    protocol: protocolOf(v),
    scheduler: v.scheduler,
    quiescent: v.quiescent,
    inKernel: Boolean(svc),
    healthy,
    total: reals.length,
    reals,
    fallback,
    panic: src.policy?.panicking.has(v.id) ?? false,
    quorum:
      v.quorum > 0
        ? {
            reached: src.policy?.quorate.get(v.id) ?? true,
            weightUp: v.reals.reduce((n, r, i) => (reals[i]!.state === 'up' ? n + r.weight : n), 0),
            quorum: v.quorum,
            hysteresis: v.hysteresis,
          }
        : null,
  };
}
