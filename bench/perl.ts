/**
 * Run Debian's Perl ldirectord against a chosen ipvsadm, for side-by-side benchmarks: a
 * copy of /usr/sbin/ldirectord (made at run time, never committed) whose ipvsadm lookup
 * is replaced by the given path, as the Perl spec's own harness did (its Appendix A).
 * The copy's name contains "ldirectord" because the daemon's pid check looks for it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function preparePerl(ipvsadm: string, dir: string, source = '/usr/sbin/ldirectord'): string {
  const src = readFileSync(source, 'utf8');
  const from = 'if ($DEBUG>0 and -f "./ipvsadm") {\n\t$IPVSADM="./ipvsadm";';
  if (!src.includes(from)) throw new Error(`unexpected ${source}: cannot point it at another ipvsadm`);
  const out = join(dir, 'ldirectord-bench');
  writeFileSync(out, src.replace(from, `if (1) {\n\t$IPVSADM="${ipvsadm}";`), { mode: 0o755 });
  return out;
}
