/**
 * The resolved-config dump printed by `ldirectord --check --json`
 * (reference/config-dump.md). Field names are a contract with tools and tests.
 *
 * Every directive's value is taken from the directive table, so a directive added there is
 * dumped with no change here; secrets (passwd, secret, login) are shown as `***`.
 */
import { MASKED, maskUserinfo } from '../text/secrets';
import { DIRECTIVE_LIST } from './directives';
import {
  DAEMON_STATUS,
  DAEMON_STATUS_ALL,
  protocolOf,
  type Config,
  type FallbackServer,
  type GlobalFallback,
  type VirtualService,
} from './model';

/** Bitmask → the names Perl's parse_emailalertstatus accepts. */
export function emailStatusNames(mask: number): string[] {
  if (mask === DAEMON_STATUS_ALL) return ['all'];
  if (mask === 0) return ['none'];
  return (Object.keys(DAEMON_STATUS) as Array<keyof typeof DAEMON_STATUS>).filter((k) => mask & DAEMON_STATUS[k]);
}

export { MASKED };

/** The plain directives of a scope, as they are dumped. */
function settings(scope: 'global' | 'virtual', from: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const values = from as Record<string, unknown>;
  for (const [name, d] of DIRECTIVE_LIST) {
    if (!d[scope] || d.special) continue;
    const v = values[name];
    // An addition left at its default is not shown: a Perl config dumps as it always did.
    if (d.addition && v === d.default) continue;
    if (name === 'emailalertstatus') out[name] = emailStatusNames(v as number);
    else if (d.secret && v) out[name] = MASKED;
    else out[name] = typeof v === 'string' ? maskUserinfo(v) : v;
  }
  return out;
}

const server = (f: FallbackServer | GlobalFallback | null) =>
  f && { address: f.address, port: f.port, forward: f.forward };

export function dumpConfig(cfg: Config): object {
  const g = cfg.global;
  return {
    global: {
      ...settings('global', g),
      checkinterval: g.checkinterval,
      checktimeout: g.checktimeout,
      negotiatetimeout: g.negotiatetimeout,
      fallback: server(g.fallback),
      fallback6: server(g.fallback6),
    },
    virtuals: cfg.virtuals.map(dumpVirtual),
    warnings: cfg.warnings,
  };
}

function dumpVirtual(v: VirtualService): object {
  const e = v.endpoint;
  return {
    line: v.line,
    id: v.id,
    protocol: protocolOf(v),
    address: e.kind === 'address' ? e.address : null,
    port: e.kind === 'address' ? e.port : 0,
    fwmark: e.kind === 'fwmark' ? e.mark : null,
    ipv6: v.ipv6,
    ...settings('virtual', v),
    checktype: v.checktype,
    negotiateEvery: v.negotiateEvery,
    service: v.service,
    checktimeout: v.checktimeout,
    negotiatetimeout: v.negotiatetimeout,
    checkinterval: v.checkinterval,
    fallback: server(v.fallback),
    reals: v.reals.map((r) => ({
      line: r.line,
      address: r.address,
      port: r.port,
      forward: r.forward,
      weight: r.weight,
      request: r.request === null ? null : maskUserinfo(r.request),
      receive: r.receive,
      lower: r.lower,
      upper: r.upper,
    })),
  };
}
