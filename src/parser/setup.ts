/**
 * ld_setup: once the whole file is read, every virtual gets its final values: its own,
 * else the global one where the directive inherits, else the default (all three from the
 * directive table), and then the values worked out from several lines (the mutual timeout
 * defaults, the effective checkinterval and fallback, the service a port implies).
 */
import { fromByteString } from '../perl/regex';
import { DIRECTIVE_LIST, type CheckTypeValue, type GlobalSettings, type VirtualSettings } from './directives';
import { fallbackServer, type RawFallback } from './fallback';
import type { Endpoint, GlobalConfig, GlobalFallback, RealServer, VirtualService } from './model';
import type { RawReal } from './reals';

/** The values read in one scope (the top level, or one virtual block), by directive name. */
export class Values {
  readonly value = new Map<string, unknown>();
  /** Directive → line of its last occurrence, for errors found after parsing. */
  readonly line = new Map<string, number>();

  get<T>(name: string): T | undefined {
    return this.value.get(name) as T | undefined;
  }
}

/** A virtual block as read, before ld_setup's defaults and inheritance. */
export interface RawVirtual {
  line: number;
  af: 4 | 6;
  values: Values;
  endpoint: Endpoint;
  id: string;
  /** The service the port implies, for a virtual without service=. */
  impliedService: string;
  fallback: RawFallback | null;
  reals: RawReal[];
}

export function finishGlobal(G: Values): GlobalConfig {
  const out: Record<string, unknown> = {};
  for (const [name, d] of DIRECTIVE_LIST) {
    if (!d.global || d.special) continue;
    out[name] = G.get(name) ?? (d.repeat ? [] : d.default);
  }
  const fb = (raw: RawFallback | undefined): GlobalFallback | null =>
    raw ? { ...fallbackServer(raw, 0), port: raw.port ? Number(raw.port) : null } : null;
  return {
    ...(out as unknown as GlobalSettings),
    checkinterval: G.get<number>('checkinterval') ?? 10,
    checktimeout: firstSet(G.get('checktimeout'), G.get('negotiatetimeout'), 5),
    negotiatetimeout: firstSet(G.get('negotiatetimeout'), G.get('checktimeout'), 30),
    fallback: fb(G.get('fallback')),
    fallback6: fb(G.get('fallback6')),
  };
}

/** A virtual's final values: its own, else inherited, else the default; then the worked-out ones. */
export function finishVirtual(raw: RawVirtual, global: GlobalConfig, G: Values): VirtualService {
  const own = raw.values;
  const settings: Record<string, unknown> = {};
  for (const [name, d] of DIRECTIVE_LIST) {
    if (!d.virtual || d.special) continue;
    const mine = own.get(name);
    settings[name] =
      mine !== undefined ? mine : d.inherit ? (global as unknown as Record<string, unknown>)[name] : d.default;
  }
  const check = own.get<CheckTypeValue>('checktype') ?? { type: 'negotiate', every: null };
  const port = raw.endpoint.kind === 'address' ? raw.endpoint.port : 0;
  return {
    ...(settings as unknown as VirtualSettings),
    line: raw.line,
    id: raw.id,
    endpoint: raw.endpoint,
    ipv6: raw.af === 6,
    checktype: check.type,
    negotiateEvery: check.type === 'combined' ? check.every : null,
    service: own.get<string>('service') ?? raw.impliedService,
    // §3.4: the two timeouts are mutual defaults, the virtual's beating the global's.
    checktimeout: firstSet(
      own.get('checktimeout'),
      own.get('negotiatetimeout'),
      G.get('checktimeout'),
      G.get('negotiatetimeout'),
      5,
    ),
    negotiatetimeout: firstSet(
      own.get('negotiatetimeout'),
      own.get('checktimeout'),
      G.get('negotiatetimeout'),
      G.get('checktimeout'),
      30,
    ),
    checkinterval: own.get<number>('checkinterval') || global.checkinterval,
    checkintervalOwn: own.get('checkinterval') !== undefined,
    fallback: effectiveFallback(raw, port, G),
    reals: raw.reals.map((r): RealServer => ({ ...r, request: utf8n(r.request), receive: utf8n(r.receive) })),
  };
}

/** Perl fallback_find: the virtual's own, else the global one for its family and protocol. */
function effectiveFallback(raw: RawVirtual, virtualPort: number, G: Values): VirtualService['fallback'] {
  if (raw.fallback) return fallbackServer(raw.fallback, 0);
  const g = G.get<RawFallback>(raw.af === 6 ? 'fallback6' : 'fallback');
  if (!g) return null;
  // W-4 fixed: Perl looked up $FALLBACK->{fwm}, which does not exist, and ran `-r :0`.
  // A fwmark virtual takes the global fallback as parsed for tcp.
  const udp = raw.endpoint.kind === 'address' && raw.endpoint.protocol === 'udp';
  return fallbackServer(udp ? g.udp! : g, virtualPort);
}

/** ld_setup's "first value that is set (>= 0)". */
function firstSet(...vals: Array<number | undefined>): number {
  return vals.find((x) => x !== undefined && x >= 0)!;
}

const utf8n = (s: string | null) => (s === null ? null : fromByteString(s));
