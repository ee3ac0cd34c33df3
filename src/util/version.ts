/** The package's version, read once from its package.json (the CLI's --version, the status answer). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** dist/util/ in the package; .test-build/src/util/ when the tests compile it: the nearest package.json up. */
function readVersion(): string {
  for (let dir = join(__dirname, '..', '..'), i = 0; i < 3; dir = dirname(dir), i++) {
    try {
      return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      // not here: one folder up
    }
  }
  return 'unknown';
}

export const VERSION = readVersion();
