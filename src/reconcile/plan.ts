/**
 * plan(config, health) → the table the kernel should hold. Pure.
 *
 * Per virtual service (spec §6.4, with the start-up flap W-2 designed out):
 *   - a real that is up: present at its weight and -x/-y thresholds;
 *   - a real that is down: at weight 0 when quiescent, else absent. With quiescent and
 *     readdquiescent=no, a real an operator removed by hand while it is down stays removed
 *     ("zero if present"), except the first time it is placed after start or reload,
 *     which ends where the original ends (present at weight 0);
 *   - a real not checked yet (pending): left exactly as the kernel has it, so nothing is
 *     added "to see" and nothing alive is removed before its first check;
 *   - the fallback: weight 1 while no real is up, absent as soon as one is (never
 *     quiesced); left as it is while no real is up but some are still pending.
 * Destination keys are what the kernel will hold: ipvsadm rewrites the port of a gate or
 * ipip real to the virtual's port (not for fwmark services), so `rip:vport` (W-6).
 */
import { protocolOf, virtualLabel, type RealServer, type VirtualService } from '../parser/model';
import type { HealthView, RealState } from '../schedule/health';
import { memberKey } from '../schedule/probes';
import { inPanic, slowStartWeight, type Drain } from './policy';
import { destKey, serviceKey, type Dest, type ServiceAttrs, type ServiceId } from './table';

/**
 * exact: must be present with these values; zeroIfPresent: if present, weight 0;
 * keep: leave as the kernel has it.
 */
export type DestMode = 'exact' | 'zeroIfPresent' | 'keep';

export interface DesiredDest extends Dest {
  mode: DestMode;
  role: 'real' | 'fallback';
  /** The configured `ip:port` (before the kernel's port rewrite), for log lines. */
  label: string;
}

export interface DesiredService extends ServiceId, ServiceAttrs {
  /** Perl virtual id, for log lines (`tcp:10.0.0.1:80`). */
  vid: string;
  /** Perl get_virtual: `10.0.0.1:80` or the fwmark, for log lines. */
  label: string;
  dests: Map<string, DesiredDest>;
  /** Every destination this virtual could hold (reals and fallback), for naming deletions. */
  known: Map<string, { role: 'real' | 'fallback'; label: string }>;
  /** Fewer reals are up than its panicthreshold: all are kept in (policy.ts). */
  panic: boolean;
  /** When a slow start changes a weight next, so the virtual must be planned again; null: never. */
  replanAt: number | null;
}

export type Desired = Map<string, DesiredService>;

export interface PlanOptions {
  readdquiescent: boolean;
  /** Now, for slow starts (policy.ts); absent: no ramps. */
  now?: number;
  /** Drained reals by member key (policy.ts); absent: none. */
  drains?: ReadonlyMap<string, Drain>;
}

export function serviceIdOf(v: VirtualService): ServiceId {
  const proto = protocolOf(v);
  const addr = virtualLabel(v);
  return { key: serviceKey(proto, addr, v.ipv6), proto, addr, ipv6: v.ipv6 };
}

/** Where the kernel keeps a real: gate/ipip reals of an address service take its port. */
export function kernelDestKey(
  v: VirtualService,
  address: string,
  port: number,
  forward: RealServer['forward'],
): string {
  const mapped = v.endpoint.kind === 'address' && forward !== 'masq' ? v.endpoint.port : port;
  return destKey(address, mapped);
}

export function planVirtual(v: VirtualService, health: HealthView, opts: PlanOptions): DesiredService {
  const id = serviceIdOf(v);
  const dests = new Map<string, DesiredDest>();
  const known = new Map<string, { role: 'real' | 'fallback'; label: string }>();
  let anyUp = false;
  let anyPending = false;
  let replanAt: number | null = null;
  const views = v.reals.map((_r, i) => health(v, i));
  const panic = inPanic(
    v.panicthreshold,
    views.map((m) => m.state),
  );
  /** Which state claimed each kernel key: two reals the kernel stores under one key. */
  const owner = new Map<string, RealState>();
  v.reals.forEach((r, i) => {
    const key = kernelDestKey(v, r.address, r.port, r.forward);
    const label = destKey(r.address, r.port);
    if (!known.has(key)) known.set(key, { role: 'real', label });
    const { state, placed, rampFrom } = views[i]!;
    const drain = opts.drains?.get(memberKey(v, r));
    anyUp ||= state === 'up' && !drain;
    anyPending ||= state === 'pending';
    // The first real claims the key; a later one takes it over only by being up.
    const claimed = owner.get(key);
    if (claimed !== undefined && (claimed === 'up' || state !== 'up')) return;
    owner.set(key, state);
    dests.delete(key);
    const base = { key, forward: r.forward, upper: r.upper, lower: r.lower, role: 'real' as const, label };
    if (drain) {
      if (drain.phase === 'draining') dests.set(key, { ...base, weight: 0, mode: 'exact' });
    } else if (state === 'up') {
      const ramp = slowStartWeight(r.weight, rampFrom ?? null, opts.now ?? 0, opts.now === undefined ? 0 : v.slowstart);
      if (ramp.nextAt !== null) replanAt = Math.min(replanAt ?? Infinity, ramp.nextAt);
      dests.set(key, { ...base, weight: ramp.weight, mode: 'exact' });
    } else if (state === 'pending') dests.set(key, { ...base, weight: 0, mode: 'keep' });
    else if (panic) dests.set(key, { ...base, weight: r.weight, mode: 'exact' });
    else if (v.quiescent)
      dests.set(key, { ...base, weight: 0, mode: opts.readdquiescent || !placed ? 'exact' : 'zeroIfPresent' });
  });
  if (v.fallback) {
    const fb = v.fallback;
    const key = kernelDestKey(v, fb.address, fb.port, fb.forward);
    if (!known.has(key)) {
      known.set(key, { role: 'fallback', label: destKey(fb.address, fb.port) });
      const base = {
        key,
        forward: fb.forward,
        upper: 0,
        lower: 0,
        role: 'fallback' as const,
        label: destKey(fb.address, fb.port),
      };
      if (!anyUp && !panic && anyPending) dests.set(key, { ...base, weight: 1, mode: 'keep' });
      else if (!anyUp && !panic) dests.set(key, { ...base, weight: 1, mode: 'exact' });
    }
  }
  return {
    ...id,
    vid: v.id,
    label: virtualLabel(v),
    scheduler: v.scheduler,
    persistent: v.persistent,
    netmask: v.persistent !== null ? v.netmask : null,
    ops: v.ops && protocolOf(v) === 'udp',
    schedflags: v.schedflags,
    dests,
    known,
    panic,
    replanAt,
  };
}

/** The desired table for every virtual of the config, in config order. */
export function plan(virtuals: readonly VirtualService[], health: HealthView, opts: PlanOptions): Desired {
  const out: Desired = new Map();
  for (const v of virtuals) {
    const s = planVirtual(v, health, opts);
    // Two config virtuals naming one kernel service (e.g. ports 80 and 080): the first wins.
    if (!out.has(s.key)) out.set(s.key, s);
  }
  return out;
}
