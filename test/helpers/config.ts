/** Parse a config text for tests, with a fixed resolver (no DNS). */
import { parseConfig } from '../../src/parser/read-config';
import type { Config } from '../../src/parser/model';
import type { Resolver } from '../../src/parser/resolve';
import { isIPv4, isIPv6 } from 'node:net';

export const fixedResolver: Resolver = {
  async host(name, family) {
    if (family === 4 && isIPv4(name)) return name;
    if (family === 6 && isIPv6(name)) return name;
    if (name === 'localhost') return family === 4 ? '127.0.0.1' : '::1';
    return null;
  },
  service(name) {
    return ({ http: 80, https: 443, mysql: 3306, domain: 53, www: 80 } as Record<string, number>)[name] ?? null;
  },
};

export function config(text: string, file = 'test.cf'): Promise<Config> {
  return parseConfig(text.replace(/^\n/, ''), file, {
    resolver: fixedResolver,
    hostname: 'testhost',
    checkFiles: false,
  });
}
