/**
 * Config → probes: one probe per distinct check, shared by every (virtual, real) that
 * would run the same check (Perl's "real id" de-duplication, spec §4).
 *
 * A probe's identity is what it sends and where, with its deadline: the full probe spec
 * (checks/target.ts). Two virtuals listing the same real with the same check share one
 * probe and one timer, and its result fans out to both. Unlike Perl's real id, weight and
 * forwarding method are not part of the identity (they do not change what is sent), while
 * login, method and timeouts are (Perl silently used the first virtual's values).
 */
import type { Config, RealServer, VirtualService } from '../parser/model';
import { watchFor, type Watch } from '../checks/target';
import type { ProbeSpec } from '../checks/types';
import { destKey } from '../reconcile/table';

export interface Member {
  /** Stable across reloads: the virtual's id and the real's address and port. */
  key: string;
  v: VirtualService;
  index: number;
  r: RealServer;
}

export interface ProbeDef {
  key: string;
  watch: Exclude<Watch, { mode: 'off' }>;
  /** The shortest checkinterval among its members, in ms. */
  intervalMs: number;
  /** The real being checked, for maintenance files (`<ip>:<port>`, `<ip>`, names). */
  address: string;
  port: number;
  members: Member[];
}

export interface ProbePlan {
  probes: Map<string, ProbeDef>;
  /** Every membership, including checktype=off ones (which have no probe). */
  members: Map<string, Member & { probe: string | null }>;
}

export function memberKey(v: VirtualService, r: RealServer): string {
  return `${v.id}|${destKey(r.address, r.port)}`;
}

function specKey(spec: ProbeSpec): string {
  return JSON.stringify(spec, (_k, val: unknown) => (val instanceof RegExp ? `/${val.source}/${val.flags}` : val));
}

export function probeKey(w: Exclude<Watch, { mode: 'off' }>, r: RealServer): string {
  switch (w.mode) {
    case 'probe':
      return specKey(w.spec);
    case 'combined':
      return `combined ${w.every} ${specKey(w.negotiate)} ${specKey(w.connect)}`;
    case 'on':
      return `on ${destKey(r.address, r.port)}`;
  }
}

export function buildProbes(cfg: Config): ProbePlan {
  const probes = new Map<string, ProbeDef>();
  const members = new Map<string, Member & { probe: string | null }>();
  for (const v of cfg.virtuals) {
    v.reals.forEach((r, index) => {
      const key = memberKey(v, r);
      if (members.has(key)) return; // the same real listed twice in one virtual
      const m: Member = { key, v, index, r };
      const w = watchFor(v, r);
      if (w.mode === 'off') {
        members.set(key, { ...m, probe: null });
        return;
      }
      const pk = probeKey(w, r);
      let p = probes.get(pk);
      if (!p) {
        p = { key: pk, watch: w, intervalMs: v.checkinterval * 1000, address: r.address, port: r.port, members: [] };
        probes.set(pk, p);
      }
      p.intervalMs = Math.min(p.intervalMs, v.checkinterval * 1000);
      p.members.push(m);
      members.set(key, { ...m, probe: pk });
    });
  }
  return { probes, members };
}
