/**
 * Config → probes: one probe per distinct check, shared by every (virtual, real) that
 * would run the same check (Perl's "real id" de-duplication, spec §4).
 *
 * A probe's identity is what it sends and where, with its deadline: the full probe spec
 * (schedule/target.ts). Two virtuals listing the same real with the same check share one
 * probe and one timer, and its result fans out to both. Unlike Perl's real id, weight and
 * forwarding method are not part of the identity (they do not change what is sent), while
 * login, method and timeouts are (Perl silently used the first virtual's values).
 */
import { watchFor, type Watch } from './target';
import type { ProbeSpec } from '../checks/registry';
import { hostPort, type Config, type RealServer, type VirtualService } from '../parser/model';

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
  /** The shortest failinginterval / downinterval among its members, in ms; null: intervalMs. */
  failingMs: number | null;
  downMs: number | null;
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
  return `${v.id}|${hostPort(r.address, r.port)}`;
}

/** A spec as JSON; its receive pattern says itself what it is (checks/receive.ts toJSON). */
function specKey(spec: ProbeSpec): string {
  return JSON.stringify(spec);
}

export function probeKey(w: Exclude<Watch, { mode: 'off' }>, r: RealServer): string {
  switch (w.mode) {
    case 'probe':
      return specKey(w.spec);
    case 'combined':
      return `combined ${w.every} ${specKey(w.negotiate)} ${specKey(w.connect)}`;
    case 'on':
      return `on ${hostPort(r.address, r.port)}`;
  }
}

/**
 * What buildProbes worked out for a real of a virtual, kept for as long as the config
 * objects live: a reload carries unchanged virtuals over as the same objects
 * (parser/carry-over.ts), and their reals then need no new specs and no new keys.
 */
interface Worked {
  v: VirtualService;
  key: string;
  watch: Watch;
  probe: string | null;
}
const worked = new WeakMap<RealServer, Worked>();

function work(v: VirtualService, r: RealServer): Worked {
  const w = worked.get(r);
  if (w && w.v === v) return w;
  const watch = watchFor(v, r);
  const fresh: Worked = { v, key: memberKey(v, r), watch, probe: watch.mode === 'off' ? null : probeKey(watch, r) };
  worked.set(r, fresh);
  return fresh;
}

/** The shorter of an interval in ms and one in seconds, either absent (null). */
function shortest(ms: number | null, seconds: number | null): number | null {
  if (seconds === null) return ms;
  return ms === null ? seconds * 1000 : Math.min(ms, seconds * 1000);
}

export function buildProbes(cfg: Config): ProbePlan {
  const probes = new Map<string, ProbeDef>();
  const members = new Map<string, Member & { probe: string | null }>();
  for (const v of cfg.virtuals) {
    v.reals.forEach((r, index) => {
      const { key, watch: w, probe } = work(v, r);
      if (members.has(key)) return; // the same real listed twice in one virtual
      const m: Member = { key, v, index, r };
      if (w.mode === 'off' || probe === null) {
        members.set(key, { ...m, probe: null });
        return;
      }
      const pk = probe;
      let p = probes.get(pk);
      if (!p) {
        p = {
          key: pk,
          watch: w,
          intervalMs: v.checkinterval * 1000,
          failingMs: null,
          downMs: null,
          address: r.address,
          port: r.port,
          members: [],
        };
        probes.set(pk, p);
      }
      p.intervalMs = Math.min(p.intervalMs, v.checkinterval * 1000);
      p.failingMs = shortest(p.failingMs, v.failinginterval);
      p.downMs = shortest(p.downMs, v.downinterval);
      p.members.push(m);
      members.set(key, { ...m, probe: pk });
    });
  }
  return { probes, members };
}
