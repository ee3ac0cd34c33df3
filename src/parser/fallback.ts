/**
 * `fallback=` / `fallback6=`: `host[:port] [gate|masq|ipip]` (Perl parse_fallback, the
 * resolution in _ld_read_config_fallback_resolve, and fallback_find). Byte strings in,
 * as the reader gives them.
 */
import { perlTrue } from '../perl/strings';
import { P, type LineContext } from './values';
import type { FallbackServer, Forward } from './model';

/** A fallback as written: the host unresolved, the port a name or number, or absent. */
export interface RawFallback {
  server: string;
  port: string | undefined;
  forward: Forward;
  line: number;
  /** A global fallback's copy resolved for udp (the fields above are for tcp). */
  udp?: RawFallback;
}

const RE = {
  split: P`(\S+)(\s+(\S+))?\s*$`,
  portSuffix: P`(:(\d+|[A-Za-z0-9-_]+))?$`,
};

/** Perl parse_fallback: the port defaults to the virtual's (`virtualPort`), the method to gate. */
export function parseFallback(text: string, ctx: LineContext, virtualPort: string | undefined): RawFallback {
  let parse = text;
  let fwd: string | undefined;
  const sm = RE.split.exec(parse);
  if (sm) {
    fwd = sm[3];
    parse = sm[1]!;
  }
  const pm = RE.portSuffix.exec(parse)!; // always matches, possibly empty
  const server = parse.slice(0, pm.index) + parse.slice(pm.index + pm[0].length);
  const port = pm[2] ?? virtualPort;
  if (perlTrue(fwd) && fwd !== 'gate' && fwd !== 'masq' && fwd !== 'ipip') {
    ctx.err('forward method must be gate, masq or ipip');
  }
  return { server, port, forward: perlTrue(fwd) ? (fwd as Forward) : 'gate', line: ctx.line };
}

/** The address and port lookups resolution needs (read-config.ts gives the resolver's). */
export interface Lookups {
  host(name: string, af: 4 | 6): Promise<string | null>;
  servicePort(name: string, proto: string): number | null;
  err(line: number, msg: string): never;
}

/** Resolve a fallback's host (in the family) and port (for the protocol), as Perl does. */
export async function resolveFallback(fb: RawFallback, protocol: string, af: 4 | 6, lk: Lookups): Promise<RawFallback> {
  const addr = await lk.host(fb.server, af);
  if (addr === null) {
    lk.err(
      fb.line,
      `invalid ${af === 4 ? 'IPv4' : 'IPv6'} address or could not resolve for fallback server: ${fb.server}`,
    );
  }
  if (!perlTrue(fb.port)) return { ...fb, server: addr };
  const port = lk.servicePort(fb.port, protocol);
  if (!port) lk.err(fb.line, 'invalid port for fallback server');
  return { ...fb, server: addr, port: String(port) };
}

/** A resolved fallback as the model holds it; a port left out is `defaultPort`. */
export function fallbackServer(fb: RawFallback, defaultPort: number): FallbackServer {
  return {
    line: fb.line,
    address: fb.server,
    port: perlTrue(fb.port) ? Number(fb.port) : defaultPort,
    forward: fb.forward,
  };
}
