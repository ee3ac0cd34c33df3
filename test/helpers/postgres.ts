/**
 * A throwaway PostgreSQL server for the pgsql check tests: Debian's initdb and postgres
 * (from /usr/lib/postgresql/<version>/bin) on a temp data directory, run as the
 * `postgres` system user (the server refuses to run as root), listening on one loopback
 * address with password (SCRAM) authentication over TCP, and removed afterwards.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import {
  appendFileSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { closedPort } from './net';

export interface PostgresOptions {
  host: string;
  user: string;
  password: string;
  database: string;
  /** SQL run (as the superuser, in `database`) once the server is up. */
  setup: string[];
  /** Extra pg_hba.conf lines, put before the default ones. */
  hba?: string[];
  /** Serve TLS with this key and certificate (ssl=on). */
  tls?: { key: string; cert: string };
}

/** The newest Debian PostgreSQL bin folder with initdb and postgres. */
function binDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter(
    (v) => existsSync(join(root, v, 'bin', 'postgres')) && existsSync(join(root, v, 'bin', 'initdb')),
  );
  versions.sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}

/** uid and gid of a system user, from /etc/passwd. */
function account(name: string): { uid: number; gid: number } | null {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return null;
}

function runAs(cmd: string, args: string[], opts: SpawnOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

export class Postgres {
  private constructor(
    readonly host: string,
    readonly port: number,
    private readonly dir: string,
    private proc: ChildProcess | null,
  ) {}

  static missing(): string | null {
    if (!binDir()) return 'PostgreSQL is not installed (Debian postgresql)';
    if (!account('postgres')) return 'no postgres system user (Debian postgresql creates it)';
    if (process.getuid?.() !== 0) return 'starting a throwaway PostgreSQL as another user needs root';
    return null;
  }

  static async start(o: PostgresOptions): Promise<Postgres> {
    const bin = binDir()!;
    const { uid, gid } = account('postgres')!;
    const dir = mkdtempSync(join(tmpdir(), 'ldirectord-pg-'));
    chownSync(dir, uid, gid);
    const data = join(dir, 'data');
    const env = { PATH: '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' };
    const as: SpawnOptions = { uid, gid, env, cwd: dir };
    await runAs(
      join(bin, 'initdb'),
      [
        '-D',
        data,
        '-U',
        'postgres',
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
        '--no-sync',
        '--no-instructions',
      ],
      as,
    );
    if (o.hba?.length) {
      const hba = join(data, 'pg_hba.conf');
      const old = readFileSync(hba, 'utf8');
      rmSync(hba);
      appendFileSync(hba, o.hba.join('\n') + '\n' + old);
      chownSync(hba, uid, gid);
    }
    const tlsArgs: string[] = [];
    if (o.tls) {
      for (const [name, text] of [
        ['server.key', o.tls.key],
        ['server.crt', o.tls.cert],
      ] as const) {
        writeFileSync(join(data, name), text, { mode: 0o600 });
        chownSync(join(data, name), uid, gid);
      }
      tlsArgs.push('-c', 'ssl=on', '-c', 'ssl_cert_file=server.crt', '-c', 'ssl_key_file=server.key');
    }
    const port = await closedPort(o.host);
    const proc = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        data,
        '-k',
        dir,
        '-h',
        o.host,
        '-p',
        String(port),
        '-c',
        'fsync=off',
        '-c',
        'shared_buffers=16MB',
        '-c',
        'max_connections=50',
        ...tlsArgs,
      ],
      { ...as, stdio: 'ignore' },
    );
    const pg = new Postgres(o.host, port, dir, proc);
    proc.once('exit', () => {
      pg.proc = null;
    });
    const admin = (database: string) => new Client({ host: dir, port, user: 'postgres', database });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const c = admin('postgres');
      c.on('error', () => undefined);
      try {
        await c.connect();
        const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
        await c.query(`CREATE ROLE "${o.user}" LOGIN PASSWORD ${q(o.password)}`);
        await c.query(`CREATE DATABASE "${o.database}" OWNER "${o.user}"`);
        await c.end();
        break;
      } catch (e) {
        await c.end().catch(() => undefined);
        if (!pg.proc || Date.now() > deadline) {
          await pg.remove();
          throw new Error(`postgres did not start: ${(e as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const c = admin(o.database);
    await c.connect();
    for (const s of o.setup) await c.query(s);
    await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO "${o.user}"`);
    await c.end();
    return pg;
  }

  get running(): boolean {
    return this.proc !== null;
  }

  freeze(): void {
    this.proc?.kill('SIGSTOP');
  }

  thaw(): void {
    this.proc?.kill('SIGCONT');
  }

  /** Fast shutdown (SIGINT), waited for. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGCONT');
    p.kill('SIGINT');
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
