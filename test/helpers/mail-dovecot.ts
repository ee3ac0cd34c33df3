/**
 * A throwaway dovecot (Debian dovecot-core + dovecot-pop3d + dovecot-imapd): its own
 * config file, base_dir, state_dir, log and passwd-file user database in a temp dir,
 * POP3, POP3S, IMAP and IMAPS listeners on one of our loopback addresses and on ::1, and a
 * self-signed certificate made here. The system's dovecot configuration is not read.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  freePorts,
  firstBytes,
  makeCert,
  missingRootAnd,
  startDaemon,
  tempDir,
  waitUntil,
  type Daemon,
} from './mail-net';

export interface MailUser {
  user: string;
  password: string;
}

/**
 * Users in the passwd-file. carol's password needs IMAP quoting ('"', '\\', space); bob's
 * also has a non-ASCII letter, which only an IMAP literal can carry.
 */
export const ALICE: MailUser = { user: 'alice', password: 'alice-secret' };
export const BOB: MailUser = { user: 'bob', password: 'p"a\\ss wörd' };
export const CAROL: MailUser = { user: 'carol', password: 'q"uo\\te d' };

export interface Dovecot {
  host: string;
  host6: string;
  ports: { pop3: number; pop3s: number; imap: number; imaps: number };
  daemon: Daemon;
  log(): string;
  stop(): Promise<void>;
}

export function missingDovecot(): string | null {
  const missing = missingRootAnd('dovecot', 'openssl');
  if (missing) return missing;
  if (!existsSync('/usr/lib/dovecot/pop3') || !existsSync('/usr/lib/dovecot/imap'))
    return 'dovecot-pop3d / dovecot-imapd are not installed';
  return null;
}

export async function startDovecot(host: string, host6: string): Promise<Dovecot> {
  const dir = tempDir('dovecot');
  const d = dir.path;
  const { cert, key } = makeCert(d);
  const home = join(d, 'home');
  mkdirSync(home);
  chmodSync(home, 0o1777);
  // passwd-file: user:{scheme}password:uid:gid:gecos:home:shell:extra. No ':' in passwords.
  writeFileSync(
    join(d, 'users'),
    [ALICE, BOB, CAROL].map((u) => `${u.user}:{PLAIN}${u.password}::::::\n`).join(''),
    'utf8',
  );

  const [pop3, pop3s, imap, imaps] = await freePorts(4, host, host6);
  const ports = { pop3: pop3!, pop3s: pop3s!, imap: imap!, imaps: imaps! };
  const logPath = join(d, 'dovecot.log');
  const conf = `# Throwaway dovecot for the ldirectord check tests.
base_dir = ${d}/run
state_dir = ${d}/state
instance_name = ldtest-${process.pid}-${ports.pop3}
log_path = ${logPath}
protocols = pop3 imap
listen = ${host}, ${host6}
ssl = yes
ssl_cert = <${cert}
ssl_key = <${key}
# The checks log in over plain connections too, as ldirectord does.
disable_plaintext_auth = no
auth_mechanisms = plain
# Answer a wrong password at once (the default waits 2 s).
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN ${d}/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${home}/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    port = ${ports.imap}
  }
  inet_listener imaps {
    port = ${ports.imaps}
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = ${ports.pop3}
  }
  inet_listener pop3s {
    port = ${ports.pop3s}
    ssl = yes
  }
}
# No auth penalty: a wrong-password test would otherwise delay the next tests' logins
# from the same address by 2 s and more (dovecot's anvil penalty).
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
`;
  const confPath = join(d, 'dovecot.conf');
  writeFileSync(confPath, conf);
  const daemon = startDaemon('dovecot', ['-F', '-c', confPath]);
  const log = () => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    await daemon.stop();
    dir.remove();
  };
  try {
    // Login processes greet only once the auth process is up: wait for real greetings.
    await waitUntil(
      'dovecot POP3 greeting',
      async () => (await firstBytes(host, ports.pop3))?.startsWith('+OK') ?? false,
    );
    await waitUntil(
      'dovecot IMAP greeting',
      async () => (await firstBytes(host6, ports.imap))?.startsWith('* OK') ?? false,
    );
  } catch (e) {
    const why = `${(e as Error).message}\n--- dovecot output ---\n${daemon.output()}\n--- dovecot log ---\n${log()}`;
    await stop();
    throw new Error(why);
  }
  return { host, host6, ports, daemon, log, stop };
}
