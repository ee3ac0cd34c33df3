/**
 * A self-signed certificate made for the test run (openssl, run with execFile), so the
 * HTTPS checks meet what operators' reals often have: a certificate no CA signed.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { which } from './env';

const run = promisify(execFile);

export interface SelfSigned {
  key: string;
  cert: string;
}

/** A fresh self-signed key and certificate for `cn`, or a reason string when openssl is missing. */
export async function selfSigned(cn = 'ldirectord-test.invalid'): Promise<SelfSigned | string> {
  const openssl = which('openssl');
  if (!openssl) return 'openssl is not installed (Debian openssl)';
  const dir = mkdtempSync(join(tmpdir(), 'ldirectord-tls-'));
  try {
    await run(openssl, [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
    ]);
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
