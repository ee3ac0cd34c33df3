/**
 * The Perl ldirectord's own negotiate checks as a differential-test oracle: the same
 * ldirectord.cf goes to Perl's check_<service> (test/helpers/perl-check.pl) and, through
 * our parser and spec builder, to our check; both run against the same real server.
 */
import { spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, missingPerlLdirectord } from './env';
import { tempDir } from './throwaway';

/** Why Perl's checks cannot run here, or null. */
export function missingPerlChecks(): string | null {
  const ld = missingPerlLdirectord();
  if (ld) return ld;
  const r = spawnSync('perl', ['-MNet::LDAP', '-MNet::DNS', '-MAuthen::Radius', '-MJSON::PP', '-e', '1']);
  return r.status === 0
    ? null
    : "Perl modules of ldirectord's negotiate checks are missing (apt-get install ldirectord)";
}

export interface PerlVerdict {
  /** The state Perl left the real in. */
  up: boolean;
  /** The message of Perl's first service_set call ('-' when it gave none). */
  reason: string;
  /** Every service_set message, in order (check_ldap sets some failures down twice). */
  reasons: string[];
}

/** Run Perl's check on the first real of the first virtual of `cf`. */
export function perlCheck(cf: string): Promise<PerlVerdict> {
  const dir = tempDir('perlcheck');
  const file = join(dir, 'ldirectord.cf');
  writeFileSync(file, cf);
  return new Promise((resolve, reject) => {
    const child = spawn('perl', [join(ROOT, 'test', 'helpers', 'perl-check.pl'), file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('latin1')));
    child.once('error', reject);
    child.once('exit', (code) => {
      rmSync(dir, { recursive: true, force: true });
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) return reject(new Error(`perl-check.pl failed (${code}):\n${err}${out}`));
      resolve(JSON.parse(line.slice('RESULT '.length)) as PerlVerdict);
    });
  });
}
