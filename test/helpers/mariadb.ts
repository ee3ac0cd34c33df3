/**
 * A throwaway MariaDB server for the mysql check tests: Debian's mariadbd on its own
 * datadir, socket and TCP port (bound to one loopback address), made with
 * mariadb-install-db, set up through an init file, and removed afterwards.
 * The option file is written with the `ini` package (my.cnf is INI).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'ini';
import { createConnection } from 'mysql2';
import { which } from './env';
import { closedPort } from './net';

const run = promisify(execFile);

export interface MariaDbOptions {
  host: string;
  user: string;
  password: string;
  database: string;
  /** SQL run (as root, in `database`) once the server is up: tables and rows. */
  setup: string[];
}

export class MariaDb {
  private constructor(
    readonly host: string,
    readonly port: number,
    private readonly dir: string,
    private proc: ChildProcess | null,
  ) {}

  /** Why the server cannot run here, or null. */
  static missing(): string | null {
    if (!which('mariadbd') || !which('mariadb-install-db')) return 'MariaDB is not installed (Debian mariadb-server)';
    return null;
  }

  static async start(o: MariaDbOptions): Promise<MariaDb> {
    const dir = mkdtempSync(join(tmpdir(), 'ldirectord-mariadb-'));
    const port = await closedPort(o.host);
    const init = join(dir, 'init.sql');
    const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    writeFileSync(
      init,
      [
        `CREATE DATABASE \`${o.database}\`;`,
        `CREATE USER ${q(o.user)}@'%' IDENTIFIED BY ${q(o.password)};`,
        // A pattern grant, so a database that does not exist (but would match) is
        // reported as missing rather than as not allowed.
        `GRANT SELECT ON \`${o.database}%\`.* TO ${q(o.user)}@'%';`,
        `USE \`${o.database}\`;`,
        ...o.setup.map((s) => s.replace(/;?\s*$/, ';')),
        '',
      ].join('\n'),
    );
    const cnf = join(dir, 'my.cnf');
    writeFileSync(
      cnf,
      stringify({
        mysqld: {
          user: 'root',
          datadir: join(dir, 'data'),
          socket: join(dir, 'mysqld.sock'),
          'pid-file': join(dir, 'mysqld.pid'),
          // Its own temp dir: temp table files are named by pid, and a shared /tmp (other
          // PID namespaces, parallel runs) made the bootstrap fail on a name another took.
          tmpdir: dir,
          'log-error': join(dir, 'error.log'),
          port,
          'bind-address': o.host,
          'init-file': init,
          'skip-name-resolve': 1,
          'innodb-buffer-pool-size': '16M',
          'innodb-log-file-size': '8M',
          'skip-log-bin': 1,
          'performance-schema': 0,
        },
      }),
    );
    await run(
      which('mariadb-install-db')!,
      [`--defaults-file=${cnf}`, '--auth-root-authentication-method=socket', '--skip-test-db'],
      { timeout: 120_000 },
    );
    const proc = spawn(which('mariadbd')!, [`--defaults-file=${cnf}`], { stdio: 'ignore' });
    const db = new MariaDb(o.host, port, dir, proc);
    proc.once('exit', () => {
      db.proc = null;
    });
    // Ready once the user can log in (the init file has then run).
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const c = createConnection({
          host: o.host,
          port,
          user: o.user,
          password: o.password,
          database: o.database,
          connectTimeout: 2000,
        });
        c.on('error', () => undefined);
        c.connect((err) => {
          c.destroy();
          resolve(!err);
        });
      });
      if (ok) return db;
      if (!db.proc || Date.now() > deadline) {
        await db.stop();
        throw new Error(`mariadbd did not start (see ${join(dir, 'error.log')})`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  get running(): boolean {
    return this.proc !== null;
  }

  /** SIGSTOP: the kernel still accepts connections, the server answers nothing. */
  freeze(): void {
    this.proc?.kill('SIGSTOP');
  }

  thaw(): void {
    this.proc?.kill('SIGCONT');
  }

  /** Stop the server and wait for it (the datadir stays until remove()). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGCONT');
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
