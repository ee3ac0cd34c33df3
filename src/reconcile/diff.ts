/**
 * diff(desired, actual) → the operations that make actual equal desired. Pure.
 *
 * Only services in `desired` (managed) and in `retire` (managed until a reload removed
 * them, or being stopped) are looked at; every other kernel service is left alone.
 * Operations come out in dependency order: services are added or edited before their
 * destinations are touched, and retired services are deleted last.
 */
import type { DesiredDest, DesiredService, Desired } from './plan';
import { sameAttrs, type Dest, type Service, type ServiceAttrs, type ServiceId, type Table } from './table';

export type Op =
  | { kind: 'addService'; svc: DesiredService }
  | { kind: 'editService'; svc: DesiredService; before: ServiceAttrs }
  | { kind: 'deleteService'; svc: ServiceId; label: string; why: 'start' | 'stop' }
  | { kind: 'addDest'; svc: DesiredService; dest: DesiredDest }
  | { kind: 'editDest'; svc: DesiredService; dest: DesiredDest; before: Dest }
  | { kind: 'deleteDest'; svc: DesiredService; before: Dest; role: 'real' | 'fallback' | 'stale'; label: string };

export interface Retired {
  svc: ServiceId;
  label: string;
  why: 'start' | 'stop';
}

export function diff(desired: Desired, actual: Table, retire: readonly Retired[] = []): Op[] {
  const services: Op[] = [];
  const deletes: Op[] = [];
  const changes: Op[] = [];
  for (const svc of desired.values()) {
    const have = actual.get(svc.key);
    if (!have) services.push({ kind: 'addService', svc });
    else if (!sameAttrs(svc, have, svc.proto)) services.push({ kind: 'editService', svc, before: attrsOf(have) });
    diffDests(svc, have, deletes, changes);
  }
  const retired: Op[] = [];
  for (const r of retire) {
    if (actual.has(r.svc.key) && !desired.has(r.svc.key))
      retired.push({ kind: 'deleteService', svc: r.svc, label: r.label, why: r.why });
  }
  // Deletions before additions, so a destination whose kernel key changes (a forward
  // method change moves a gate real from rip:vport to rip:rport) never collides.
  return [...services, ...deletes, ...changes, ...retired];
}

function diffDests(svc: DesiredService, have: Service | undefined, deletes: Op[], changes: Op[]): void {
  for (const d of svc.dests.values()) {
    const cur = have?.dests.get(d.key);
    if (d.mode === 'keep') continue;
    if (!cur) {
      if (d.mode === 'exact') changes.push({ kind: 'addDest', svc, dest: d });
      continue;
    }
    const target = d.mode === 'zeroIfPresent' ? { ...d, weight: 0 } : d;
    if (!sameDest(target, cur)) changes.push({ kind: 'editDest', svc, dest: target, before: cur });
  }
  if (!have) return;
  for (const cur of have.dests.values()) {
    if (svc.dests.has(cur.key)) continue;
    const k = svc.known.get(cur.key);
    deletes.push({ kind: 'deleteDest', svc, before: cur, role: k ? k.role : 'stale', label: k ? k.label : cur.key });
  }
}

/**
 * Weight and forwarding always; thresholds only for a destination that takes traffic, and
 * only when the kernel's values were read (an ipvsadm that cannot list them is not
 * second-guessed).
 */
function sameDest(want: Dest, have: Dest): boolean {
  if (want.weight !== have.weight || want.forward !== have.forward) return false;
  if (want.weight === 0 || have.upper === null || have.lower === null) return true;
  return want.upper === have.upper && want.lower === have.lower;
}

function attrsOf(s: Service): ServiceAttrs {
  return { scheduler: s.scheduler, persistent: s.persistent, netmask: s.netmask, ops: s.ops, schedflags: s.schedflags };
}
