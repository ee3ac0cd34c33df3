/**
 * A throwaway OpenLDAP slapd: its own slapd.conf, mdb database (loaded with slapadd) and
 * self-signed certificate in a temp dir, listening on ldap:// and ldaps:// at
 * 127.30.1.1 and ldap:// at [::1]. It never uses /etc/ldap/slapd.d or the system service.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { which } from './env';
import { ADDR, freePort, runTool, startDaemon, tempDir, type Daemon } from './throwaway';

export const SUFFIX = 'dc=example,dc=test';
export const MONITOR_DN = `cn=monitor,${SUFFIX}`;
export const MONITOR_PASSWORD = 'monitor-pw';

export interface Slapd extends Daemon {
  host: string;
  ldapPort: number;
  ldapsPort: number;
  /** ldap:// on ::1 */
  ldap6Port: number;
}

/** Why slapd cannot run here, or null. */
export function missingSlapd(): string | null {
  for (const [cmd, pkg] of [
    ['slapd', 'slapd'],
    ['slapadd', 'slapd'],
    ['openssl', 'openssl'],
  ]) {
    if (!which(cmd)) return `${cmd} is not installed (apt-get install ${pkg})`;
  }
  return null;
}

export async function startSlapd(): Promise<Slapd> {
  const dir = tempDir('slapd');
  const host = ADDR.ldap;
  const ldapPort = await freePort([['tcp', host]]);
  const ldapsPort = await freePort([['tcp', host]]);
  const ldap6Port = await freePort([['tcp', '::1']]);
  mkdirSync(join(dir, 'db'));
  await runTool(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'key.pem',
      '-out',
      'cert.pem',
      '-days',
      '2',
      '-subj',
      '/CN=ldap.example.test',
    ],
    dir,
  );
  const conf = join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      `pidfile ${dir}/slapd.pid`,
      `argsfile ${dir}/slapd.args`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `TLSCertificateFile ${dir}/cert.pem`,
      `TLSCertificateKeyFile ${dir}/key.pem`,
      // slapd's default access is "by * read"; say it so the anonymous search is explicit.
      'access to attrs=userPassword by anonymous auth by self read by * none',
      'access to * by * read',
      'database mdb',
      'maxsize 10485760',
      `suffix "${SUFFIX}"`,
      `rootdn "cn=admin,${SUFFIX}"`,
      'rootpw admin-pw',
      `directory ${dir}/db`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'data.ldif'),
    [
      `dn: ${SUFFIX}`,
      'objectClass: dcObject',
      'objectClass: organization',
      'dc: example',
      'o: Example',
      '',
      `dn: ou=people,${SUFFIX}`,
      'objectClass: organizationalUnit',
      'ou: people',
      '',
      `dn: ${MONITOR_DN}`,
      'objectClass: person',
      'cn: monitor',
      'sn: monitor',
      `userPassword: ${MONITOR_PASSWORD}`,
      '',
    ].join('\n'),
  );
  await runTool('slapadd', ['-f', conf, '-l', join(dir, 'data.ldif')], dir);
  const urls = `ldap://${host}:${ldapPort}/ ldaps://${host}:${ldapsPort}/ ldap://[::1]:${ldap6Port}/`;
  // -d 0: stay in the foreground (no fork), no debug output.
  const d = await startDaemon('slapd', dir, 'slapd', ['-d', '0', '-f', conf, '-h', urls], {
    ready: [
      ['tcp', host, ldapPort],
      ['tcp', host, ldapsPort],
      ['tcp', '::1', ldap6Port],
    ],
  });
  return Object.assign(d, { host, ldapPort, ldapsPort, ldap6Port });
}
