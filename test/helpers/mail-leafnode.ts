/**
 * A throwaway NNTP server: Debian's leafnode, run the way it is meant to be run, from a
 * super-server (inetd) that hands it each accepted connection as stdin/stdout. The
 * "inetd" is a Node TCP server here, so it can listen on our own loopback address and
 * port; leafnode itself is the real program.
 *
 * Why leafnode and not INN: Debian's inn2 package fails to configure on a host without a
 * fully-qualified name (its postinst exits 1), which would break `apt-get install` in CI.
 *
 * leafnode reads /etc/news/leafnode/config and /var/spool/news, paths compiled in. So
 * that nothing on the machine is changed, each leafnode runs in a private mount namespace
 * with a temp config dir and spool bind-mounted over those two paths.
 *
 * leafnode refuses to serve (a 503 greeting) unless it has a unique fully-qualified host
 * name: `hostname` in its config sets one, and a non-unique one (localhost.localdomain)
 * gives a real server's refusal to test against.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { missingMountNamespace, missingRootAnd, tempDir } from './mail-net';

/** A name leafnode accepts as unique (home.arpa is reserved for local use, RFC 8375). */
export const GOOD_FQDN = 'nntp.ldirectord-test.home.arpa';
/** A name leafnode rejects as not unique. */
export const BAD_FQDN = 'localhost.localdomain';

export interface Leafnode {
  host: string;
  port: number;
  /** stderr of the leafnode runs so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

const LEAFNODE = '/usr/sbin/leafnode';

function newsIds(): { uid: number; gid: number } | null {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('news:'));
  if (!line) return null;
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

export function missingLeafnode(): string | null {
  const m = missingRootAnd() ?? missingMountNamespace();
  if (m) return m;
  if (!existsSync(LEAFNODE)) return 'leafnode is not installed (see .ci/packages/checks-mail.txt)';
  if (!newsIds()) return "no 'news' account";
  return null;
}

export function startLeafnode(host: string, fqdn: string): Promise<Leafnode> {
  const ids = newsIds()!;
  const dir = tempDir('leafnode');
  const etc = join(dir.path, 'etc');
  const spool = join(dir.path, 'spool');
  mkdirSync(etc);
  chmodSync(etc, 0o750);
  chownSync(etc, 0, ids.gid);
  // `server` is the upstream leafnode would fetch from; nothing here ever fetches.
  writeFileSync(join(etc, 'config'), `server = 127.20.4.254\nhostname = ${fqdn}\nexpire = 20\n`);
  chmodSync(join(etc, 'config'), 0o640);
  chownSync(join(etc, 'config'), 0, ids.gid);
  for (const sub of [
    '',
    'leaf.node',
    'failed.postings',
    'interesting.groups',
    'out.going',
    'temp.files',
    'message.id',
  ]) {
    const p = join(spool, sub);
    mkdirSync(p, { recursive: true });
    chownSync(p, ids.uid, ids.gid);
  }

  const children = new Set<ChildProcess>();
  let errors = '';
  const script = `mount --bind ${etc} /etc/news/leafnode && mount --bind ${spool} /var/spool/news && exec ${LEAFNODE}`;
  const server: Server = createServer({ pauseOnConnect: true }, (sock) => {
    sock.on('error', () => undefined);
    // inetd-style: the accepted socket is leafnode's stdin and stdout.
    const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
      stdio: [sock, sock, 'pipe'],
    });
    children.add(child);
    child.stderr!.on('data', (d: Buffer) => (errors += d.toString()));
    child.once('exit', () => {
      children.delete(child);
      sock.destroy();
    });
    child.once('error', (e) => {
      errors += String(e);
      children.delete(child);
      sock.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () =>
      resolve({
        host,
        port: (server.address() as { port: number }).port,
        output: () => errors,
        stop: async () => {
          // Stop accepting, end the leafnodes still running, then wait for the close.
          const closed = new Promise<void>((r) => server.close(() => r()));
          await Promise.all(
            [...children].map(
              (c) =>
                new Promise<void>((r) => {
                  if (c.exitCode !== null || c.signalCode !== null) return r();
                  c.once('exit', () => r());
                  c.kill('SIGTERM');
                }),
            ),
          );
          await closed;
          dir.remove();
        },
      }),
    );
  });
}
