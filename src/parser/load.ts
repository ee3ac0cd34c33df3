/**
 * The one way every command finds and reads its configuration.
 *
 * CONFIG argument → file, as Perl ld_init resolves it: /etc/ha.d/CONFIG, then
 * /etc/ha.d/conf/CONFIG, then CONFIG as given (the prefixes are string concatenation, so
 * an absolute CONFIG simply falls through to "as given"). Then the file is read and parsed
 * with the system's resolver, as the daemon would at start.
 */
import { statSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import type { Config } from './model';
import { readConfigFile, type ParseOptions } from './read-config';
import { systemResolver } from './resolve';

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

/** Read and parse `file` (already located). Throws ConfigError. */
export function loadConfig(
  file: string,
  opts: Pick<ParseOptions, 'checkFiles' | 'debug' | 'validateChecks'> = { checkFiles: false },
): Promise<Config> {
  return readConfigFile(file, { resolver: systemResolver(), hostname: daemonHostname(), ...opts });
}

/** ld_init's CFGNAME (the pid file's name): `ldirectord` without a config argument, else the config's file name. */
export function cfgName(config: string, explicit: boolean): string {
  if (!explicit) return 'ldirectord';
  const m = /([^/]+)$/.exec(config);
  return m ? m[1]! : config;
}
