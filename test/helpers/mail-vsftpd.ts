/**
 * A throwaway vsftpd (Debian `vsftpd`): its own config file, a chroot tree with the files
 * to fetch, anonymous login and one password user, all in a temp dir.
 *
 * The password user needs PAM, and PAM reads /etc/pam.d and /etc/shadow. So that nothing
 * on the machine is changed, vsftpd runs in a private mount namespace (`unshare --mount`)
 * in which a temp dir is bind-mounted over /etc/pam.d (one service: pam_unix, no delay)
 * and copies of /etc/passwd and /etc/shadow with the extra user over the real ones.
 * vsftpd maps the user to the `ftp` account (guest_enable), chrooted to the same tree.
 *
 * One vsftpd listens on one address family, so IPv4 and IPv6 are two instances.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  firstBytes,
  freePort,
  missingMountNamespace,
  missingRootAnd,
  startDaemon,
  tempDir,
  waitUntil,
  type Daemon,
} from './mail-net';

export const FTP_USER = { user: 'ftpcheck', password: 'ftp-s3cret' };
/** Content of /health.txt in the FTP root. */
export const HEALTH_TEXT = 'ldirectord health: OK\n';
/** /big.bin: 2 MiB of 'a', then a marker past the check's 1 MiB download cap. */
export const BIG_MARKER = 'END-OF-BIG-FILE';

export interface Vsftpd {
  host: string;
  port: number;
  daemon: Daemon;
  stop(): Promise<void>;
}

export function missingVsftpd(): string | null {
  const m = missingRootAnd('vsftpd', 'openssl') ?? missingMountNamespace();
  if (m) return m;
  if (
    !readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .some((l) => l.startsWith('ftp:'))
  )
    return "no 'ftp' account (the vsftpd package creates it)";
  if (!existsSync('/etc/shadow')) return 'no /etc/shadow';
  return null;
}

/** Start vsftpd on `host` (an IPv4 address or ::1). */
export async function startVsftpd(host: string): Promise<Vsftpd> {
  const dir = tempDir('vsftpd');
  const d = dir.path;
  const root = join(d, 'root');
  const empty = join(d, 'empty');
  const pam = join(d, 'pam.d');
  for (const p of [root, empty, pam]) {
    mkdirSync(p);
    chmodSync(p, 0o755);
  }
  writeFileSync(join(root, 'health.txt'), HEALTH_TEXT);
  writeFileSync(join(root, 'big.bin'), Buffer.concat([Buffer.alloc(2 * 1024 * 1024, 'a'), Buffer.from(BIG_MARKER)]));
  for (const f of ['health.txt', 'big.bin']) chmodSync(join(root, f), 0o644);

  // PAM: pam_unix only, without its failure delay, so a wrong password answers at once.
  writeFileSync(
    join(pam, 'ldtest-ftp'),
    'auth required pam_unix.so nodelay\naccount required pam_permit.so\nsession required pam_permit.so\n',
  );
  const hash = spawnSync('openssl', ['passwd', '-6', FTP_USER.password], { encoding: 'utf8' });
  if (hash.status !== 0) throw new Error(`openssl passwd failed: ${hash.stderr}`);
  copyFileSync('/etc/passwd', join(d, 'passwd'));
  copyFileSync('/etc/shadow', join(d, 'shadow'));
  appendFileSync(
    join(d, 'passwd'),
    `${FTP_USER.user}:x:65534:65534:ldirectord ftp check:/nonexistent:/usr/sbin/nologin\n`,
  );
  appendFileSync(join(d, 'shadow'), `${FTP_USER.user}:${hash.stdout.trim()}:19000:0:99999:7:::\n`);
  chmodSync(join(d, 'passwd'), 0o644);
  chmodSync(join(d, 'shadow'), 0o640);

  const v6 = host.includes(':');
  const port = await freePort(host);
  // Passive ports below Linux's ephemeral range (32768+), so no outgoing connection holds one.
  const pasvBase = 30000 + Math.floor(Math.random() * 2600);
  const conf = [
    '# Throwaway vsftpd for the ldirectord check tests.',
    v6 ? 'listen=NO' : 'listen=YES',
    v6 ? 'listen_ipv6=YES' : 'listen_ipv6=NO',
    v6 ? `listen_address6=${host}` : `listen_address=${host}`,
    `listen_port=${port}`,
    'background=NO',
    'anonymous_enable=YES',
    `anon_root=${root}`,
    'no_anon_password=YES',
    'local_enable=YES',
    'guest_enable=YES',
    'guest_username=ftp',
    `local_root=${root}`,
    'chroot_local_user=YES',
    'pam_service_name=ldtest-ftp',
    `secure_chroot_dir=${empty}`,
    'write_enable=NO',
    'pasv_enable=YES',
    `pasv_min_port=${pasvBase}`,
    `pasv_max_port=${pasvBase + 99}`,
    'delay_failed_login=0',
    'xferlog_enable=NO',
    'syslog_enable=NO',
    'userlist_enable=NO',
    // Per-session namespaces and the seccomp sandbox are not needed for a test and are
    // not available in every container.
    'isolate=NO',
    'isolate_network=NO',
    'seccomp_sandbox=NO',
    '',
  ].join('\n');
  const confPath = join(d, 'vsftpd.conf');
  writeFileSync(confPath, conf);
  chmodSync(confPath, 0o600);

  const script = [
    `mount --bind ${pam} /etc/pam.d`,
    `mount --bind ${d}/passwd /etc/passwd`,
    `mount --bind ${d}/shadow /etc/shadow`,
    `exec vsftpd ${confPath}`,
  ].join(' && ');
  const daemon = startDaemon('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script]);
  const stop = async () => {
    await daemon.stop();
    dir.remove();
  };
  try {
    await waitUntil('vsftpd greeting', async () => (await firstBytes(host, port))?.startsWith('220') ?? false, 10_000);
  } catch (e) {
    const why = `${(e as Error).message}\n--- vsftpd output ---\n${daemon.output()}`;
    await stop();
    throw new Error(why);
  }
  return { host, port, daemon, stop };
}
