/**
 * The README's first command: a self-contained demonstration.
 * (Grows with the daemon: for now it validates the sample configurations.)
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { main } from './cli';

async function demo(): Promise<number> {
  const dir = join(__dirname, '..', 'conf');
  let worst = 0;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.cf')).sort()) {
    process.stdout.write(`$ ldirectord --check conf/${f}\n`);
    worst = Math.max(worst, await main(['--check', join(dir, f)]));
  }
  return worst;
}

demo().then((code) => {
  process.exitCode = code;
});
