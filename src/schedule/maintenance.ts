/**
 * maintenancedir (spec §5.6): a real is forced down, without a check, while one of these
 * files exists in the directory: `<ip>:<port>`, `<ip>`, `<fqdn>:<port>`, `<fqdn>`,
 * `<short>:<port>`, `<short>` (IPv6 addresses in brackets; <short> is the first label of
 * the reverse name when it matches ^[a-z][a-z0-9-]+\.).
 *
 * Unlike the original (a reverse DNS lookup and six stat calls per check, W-15), the
 * directory is listed at most once a second and each address is reverse-resolved once,
 * so the check path stays free of I/O.
 */
import { readdir } from 'node:fs/promises';
import { lookupService } from 'node:dns/promises';
import type { CheckResult } from '../checks/kernel';
import { bracketHost } from '../parser/model';

/** The result a real in maintenance gets instead of a check (forced: no failurecount). */
export const IN_MAINTENANCE: CheckResult = { up: false, cause: 'maintenance', reason: 'Server in maintenance', ms: 0 };

export class Maintenance {
  private files = new Set<string>();
  /** Some file names a host rather than an address: reverse names are needed. */
  private named = false;
  private readonly names = new Map<string, string | null>();
  private listing: Promise<void> | null = null;
  private listedAt = -Infinity;

  constructor(
    readonly dir: string | null,
    private readonly reverse: (address: string) => Promise<string | null> = reverseName,
    private readonly now: () => number = Date.now,
  ) {}

  /** Re-read the directory if the last listing is older than a second. */
  refresh(): Promise<void> {
    if (!this.dir || this.now() - this.listedAt < 1000) return Promise.resolve();
    if (!this.listing) {
      this.listing = readdir(this.dir)
        .then((names) => {
          this.files = new Set(names);
          this.named = names.some(byName);
        })
        .catch(() => {
          this.files = new Set();
          this.named = false;
        })
        .finally(() => {
          this.listedAt = this.now();
          this.listing = null;
        });
    }
    return this.listing;
  }

  /**
   * Get ready to answer `has` for these addresses before the first checks run (start,
   * reload, dry-run): the directory listed and, when a file there is named by host name,
   * every address reverse-resolved. Reverse DNS can hang, so this waits at most
   * `waitMs`; lookups still running finish in the background.
   */
  async prepare(addresses: Iterable<string>, waitMs = 3000): Promise<void> {
    if (!this.dir) return;
    await this.refresh();
    if (!this.named) return;
    const lookups = Promise.all([...new Set(addresses)].map((a) => this.resolve(a)));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([lookups, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  private resolve(address: string): Promise<void> {
    if (this.names.has(address)) return Promise.resolve();
    this.names.set(address, null);
    return this.reverse(address).then((n) => void this.names.set(address, n));
  }

  /** Whether the real at address:port is in maintenance (synchronous, from the cache). */
  has(address: string, port: number): boolean {
    if (!this.dir) return false;
    void this.refresh();
    if (this.files.size === 0) return false;
    const ip = bracketHost(address);
    if (this.files.has(`${ip}:${port}`) || this.files.has(ip)) return true;
    if (!this.named) return false;
    void this.resolve(address);
    const fqdn = this.names.get(address);
    if (!fqdn) return false;
    if (this.files.has(`${fqdn}:${port}`) || this.files.has(fqdn)) return true;
    const short = /^([a-z][a-z0-9-]+)\./.exec(fqdn)?.[1];
    return short !== undefined && (this.files.has(`${short}:${port}`) || this.files.has(short));
  }
}

/** A file that names a host rather than an address (`[v6]`, `1.2.3.4`, with or without `:port`). */
function byName(file: string): boolean {
  return !/^(\[[0-9a-fA-F:.]+\]|\d+\.\d+\.\d+\.\d+)(:\d+)?$/.test(file);
}

/** getnameinfo(NI_NAMEREQD), as Perl's ld_gethostbyaddr. */
async function reverseName(address: string): Promise<string | null> {
  try {
    const r = await lookupService(address, 0);
    return r.hostname && r.hostname !== address ? r.hostname : null;
  } catch {
    return null;
  }
}
