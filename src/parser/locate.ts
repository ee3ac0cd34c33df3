/**
 * CONFIG argument → file, as Perl ld_init resolves it: /etc/ha.d/CONFIG, then
 * /etc/ha.d/conf/CONFIG, then CONFIG as given. (The prefixes are string concatenation,
 * so an absolute CONFIG simply falls through to "as given".)
 */
import { statSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';

const isFile = (p: string) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

export function locateConfig(config: string, roots = ['/etc/ha.d/', '/etc/ha.d/conf/']): string | null {
  for (const root of roots) if (isFile(root + config)) return root + config;
  return isFile(config) ? config : null;
}

/** Perl's $HOSTNAME: the environment's HOSTNAME, else uname -n. */
export function daemonHostname(): string {
  return process.env.HOSTNAME || osHostname();
}
