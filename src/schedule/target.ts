/**
 * (virtual, real) → how it is watched: the probe specs that check it, built by the check
 * kinds from a CheckTarget, with Perl's semantics:
 *   - ld_setup's request and receive (a per-real `"request", "receive"` pair wins);
 *   - ld_checkport (checkport, else the real's port, else the service's default port);
 *   - _check_real's dispatch (checktype × service; `connect` on a UDP virtual is a ping);
 *   - the timeouts: checktimeout for connect, ping and external; negotiatetimeout for
 *     negotiate.
 * Pure: no I/O. The scheduler decides when each spec runs (combined, on, off, maintenance).
 */
import { CHECK_KINDS, SERVICES, type ProbeSpec } from '../checks/registry';
import type { CheckTarget } from '../checks/kind';
import { compileReceive } from '../checks/receive';
import {
  bracketHost,
  portOf,
  protocolOf,
  virtualLabel,
  type Config,
  type RealServer,
  type VirtualService,
} from '../parser/model';
import { servicePort } from '../parser/services';

/** How a real is watched, per its virtual's checktype. */
export type Watch =
  | { mode: 'probe'; spec: ProbeSpec }
  /** checktype=N: N connect checks, then a negotiate check (spec §5 item 9). */
  | { mode: 'combined'; negotiate: ProbeSpec; connect: ProbeSpec; every: number }
  /** checktype=on: up without checking; off: no check, state stays as adopted. */
  | { mode: 'on' }
  | { mode: 'off' };

/** Port the checks use: checkport, else the real's port, else the service's default. */
export function checkPort(v: VirtualService, r: RealServer): number | null {
  if (v.checkport !== null) return v.checkport;
  if (r.port > 0) return r.port;
  return servicePort(v.service);
}

/** What the configuration says about checking real `r` of virtual `v`. */
export function targetOf(v: VirtualService, r: RealServer): CheckTarget {
  // The per-real override is a (request, receive) pair; otherwise the virtual's values.
  const own = r.request !== null && r.receive !== null;
  return {
    host: r.address,
    port: checkPort(v, r) ?? 0,
    realPort: r.port,
    protocol: protocolOf(v),
    ipv6: v.ipv6,
    vip: v.endpoint.kind === 'fwmark' ? virtualLabel(v) : bracketHost(v.endpoint.address),
    vport: portOf(v),
    service: v.service,
    request: own ? r.request! : v.request,
    ownRequest: own,
    receive: compileReceive(own ? r.receive : v.receive),
    httpmethod: v.httpmethod,
    virtualhost: v.virtualhost,
    login: v.login,
    passwd: v.passwd,
    database: v.database,
    secret: v.secret,
    checkcommand: v.checkcommand,
    perl: v.checktype === 'external-perl',
    connectTimeoutMs: v.checktimeout * 1000,
    negotiateTimeoutMs: v.negotiatetimeout * 1000,
    checkcount: v.checkcount,
  };
}

function negotiateSpecOf(t: CheckTarget): ProbeSpec {
  const kind = SERVICES.get(t.service)?.kind ?? CHECK_KINDS.none;
  return kind.spec(t) as ProbeSpec;
}

/** The negotiate check of real `r` of virtual `v` (its service's kind). */
export function negotiateSpec(v: VirtualService, r: RealServer): ProbeSpec {
  return negotiateSpecOf(targetOf(v, r));
}

/** Load the check libraries `cfg`'s negotiate checks need (see CheckKind.preload). */
export async function preloadChecks(cfg: Config): Promise<void> {
  const services = new Set<string>();
  for (const v of cfg.virtuals) if (v.checktype === 'negotiate' || v.checktype === 'combined') services.add(v.service);
  await Promise.all([...services].map((s) => SERVICES.get(s)?.kind.preload?.(s)));
}

export function watchFor(v: VirtualService, r: RealServer): Watch {
  if (v.checktype === 'on') return { mode: 'on' };
  if (v.checktype === 'off') return { mode: 'off' };
  const t = targetOf(v, r);
  switch (v.checktype) {
    case 'negotiate':
      return { mode: 'probe', spec: negotiateSpecOf(t) };
    case 'combined': {
      const connect = { ...CHECK_KINDS.connect.spec(t), udp: t.protocol === 'udp' };
      return { mode: 'combined', negotiate: negotiateSpecOf(t), connect, every: v.negotiateEvery ?? 0 };
    }
    case 'connect':
      // Perl: a connect check on a UDP virtual is an ICMP ping.
      return { mode: 'probe', spec: t.protocol === 'udp' ? CHECK_KINDS.ping.spec(t) : CHECK_KINDS.connect.spec(t) };
    case 'ping':
      return { mode: 'probe', spec: CHECK_KINDS.ping.spec(t) };
    case 'external':
    case 'external-perl':
      return { mode: 'probe', spec: CHECK_KINDS.external.spec(t) };
  }
}
