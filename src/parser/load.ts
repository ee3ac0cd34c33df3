/**
 * The one way every command finds and reads its configuration.
 *
 * CONFIG argument → file, as Perl ld_init resolves it: /etc/ha.d/CONFIG, then
 * /etc/ha.d/conf/CONFIG, then CONFIG as given (the prefixes are string concatenation, so
 * an absolute CONFIG simply falls through to "as given"). Then the file is read and parsed
 * with the system's resolver, as the daemon would at start.
 */
import { readFileSync, statSync } from 'node:fs';
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

/**
 * The log file a broken config had named before its error, as the original's partial parse
 * had set it when it logged `Exiting with exit_status 2`: the last global `logfile=` line
 * above line `before` (every line when 0). Null when there is none or the file cannot be read.
 */
export function logfileBefore(file: string, before: number): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    return null;
  }
  const lines = text.split('\n', before > 0 ? before - 1 : undefined);
  let found: string | null = null;
  for (const line of lines) {
    const m = /^logfile\s*=\s*(?:"([^"]*)"|(\S+))/.exec(line);
    if (m) found = m[1] ?? m[2]!;
  }
  return found;
}
