/**
 * Name resolution as the Perl daemon does it at parse time, behind an interface so the
 * parser stays pure and tests can inject a fixed world.
 *
 * - Hosts: Perl calls getaddrinfo(name, 0, family) and getnameinfo(NI_NUMERICHOST). glibc's
 *   getaddrinfo accepts inet_aton forms ("127.1", "010.0.0.1", "5" = 0.0.0.5), consults
 *   /etc/hosts, then DNS. Node's dns.lookup is the same getaddrinfo, except that it returns
 *   anything net.isIP() accepts unchanged and without checking the family, so that case is
 *   handled here (family check, IPv6 canonical form).
 * - Services: Perl's getservbyname(name, proto) reads /etc/services; an empty proto means
 *   "any protocol" (Perl passes NULL), and the first matching line wins.
 */
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6, SocketAddress } from 'node:net';

export interface Resolver {
  /** Numeric address for `name` in `family` (IPv6 without brackets), or null. */
  host(name: string, family: 4 | 6): Promise<string | null>;
  /** Port of service `name` for `proto` ('tcp', 'udp', or '' for any), or null. */
  service(name: string, proto: string): number | null;
}

interface ServiceEntry {
  names: string[];
  port: number;
  proto: string;
}

export function parseServices(text: string): ServiceEntry[] {
  const out: ServiceEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [name, portProto, ...aliases] = line.split(/\s+/);
    const m = /^(\d+)\/(\S+)$/.exec(portProto ?? '');
    if (!name || !m) continue;
    out.push({ names: [name, ...aliases], port: Number(m[1]), proto: m[2]! });
  }
  return out;
}

export function servicesLookup(entries: ServiceEntry[]): (name: string, proto: string) => number | null {
  const cache = new Map<string, number | null>();
  return (name, proto) => {
    const key = name + '/' + proto;
    let hit = cache.get(key);
    if (hit === undefined) {
      const e = entries.find((s) => (proto === '' || s.proto === proto) && s.names.includes(name));
      hit = e ? e.port : null;
      cache.set(key, hit);
    }
    return hit;
  };
}

/** Canonical numeric form of an IPv6 literal, as getnameinfo(NI_NUMERICHOST) prints it. */
export function canonicalIPv6(addr: string): string {
  return new SocketAddress({ address: addr, family: 'ipv6' }).address;
}

export function systemResolver(servicesFile = '/etc/services'): Resolver {
  let services: ((name: string, proto: string) => number | null) | undefined;
  return {
    async host(name, family) {
      if (isIPv4(name)) return family === 4 ? name : null;
      if (isIPv6(name)) return family === 6 ? canonicalIPv6(name) : null;
      try {
        const r = await lookup(name, { family, hints: 0, verbatim: true });
        return family === 6 ? canonicalIPv6(r.address) : r.address;
      } catch {
        return null;
      }
    },
    service(name, proto) {
      if (!services) {
        let text = '';
        try {
          text = readFileSync(servicesFile, 'latin1');
        } catch {
          // No services database: only numeric ports resolve, as with an empty file.
        }
        services = servicesLookup(parseServices(text));
      }
      return services(name, proto);
    },
  };
}
