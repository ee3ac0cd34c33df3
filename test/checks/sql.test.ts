/**
 * mysql and pgsql negotiate checks against a throwaway MariaDB and PostgreSQL started by
 * the tests (test/helpers/mariadb.ts, postgres.ts): right and wrong password, a query
 * with and without rows, a missing database, a stopped server, and a frozen (SIGSTOP)
 * server that only the deadline can end.
 */
import assert from 'node:assert/strict';
import { runProbe } from '../../src/checks/run';
import type { SqlSpec } from '../../src/checks/sql';
import { requirePart } from '../helpers/env';
import { MariaDb } from '../helpers/mariadb';
import { closedPort, eventually, tcpSocketsTo } from '../helpers/net';
import { Postgres } from '../helpers/postgres';
import { selfSigned } from '../helpers/tls';

const MY = '127.10.3.1';
const PG = '127.10.3.2';
const PG_TLS = '127.10.3.3';
const PASSWORD = "s3cret-'pass";

const setup = [
  'CREATE TABLE health (id INT, status VARCHAR(10))',
  "INSERT INTO health VALUES (1, 'ok'), (2, 'ok')",
  'CREATE TABLE empty_table (id INT)',
];

describe('checks: sql negotiate', function () {
  this.timeout(120_000);

  describe('mysql (MariaDB)', () => {
    let db: MariaDb | undefined;
    const spec = (over: Partial<SqlSpec> = {}): SqlSpec => ({
      kind: 'sql',
      engine: 'mysql',
      host: MY,
      port: db!.port,
      user: 'ldcheck',
      password: PASSWORD,
      database: 'ldtest',
      query: 'SELECT * FROM health',
      timeoutMs: 5000,
      ...over,
    });

    before(async function () {
      requirePart(this, MariaDb.missing());
      db = await MariaDb.start({ host: MY, user: 'ldcheck', password: PASSWORD, database: 'ldtest', setup });
    });
    after(async () => {
      await db?.remove();
    });

    it('is up when the query returns rows', async () => {
      const r = await runProbe(spec());
      assert.deepEqual([r.up, r.reason], [true, 'query returned 2 rows']);
    });

    it('is down when the query returns no rows', async () => {
      const r = await runProbe(spec({ query: 'SELECT * FROM empty_table' }));
      assert.deepEqual([r.up, r.reason], [false, 'query returned no rows']);
    });

    it('is down with the error code on a wrong password, which never shows', async () => {
      const r = await runProbe(spec({ password: 'wrong-password' }));
      assert.deepEqual([r.up, r.reason], [false, 'MySQL ER_ACCESS_DENIED_ERROR']);
      assert.ok(!r.reason.includes('wrong-password'));
    });

    it('is down on a missing database', async () => {
      const r = await runProbe(spec({ database: 'ldtest_missing' }));
      assert.deepEqual([r.up, r.reason], [false, 'MySQL ER_BAD_DB_ERROR']);
      // A database the user has no grant on is reported as such.
      const r2 = await runProbe(spec({ database: 'mysql' }));
      assert.deepEqual([r2.up, r2.reason], [false, 'MySQL ER_DBACCESS_DENIED_ERROR']);
    });

    it('is down on a query error', async () => {
      const r = await runProbe(spec({ query: 'SELECT * FROM no_such_table' }));
      assert.deepEqual([r.up, r.reason], [false, 'MySQL ER_NO_SUCH_TABLE']);
    });

    it('is down with connect ECONNREFUSED where no server listens', async () => {
      const r = await runProbe(spec({ port: await closedPort(MY) }));
      assert.deepEqual([r.up, r.reason], [false, 'connect ECONNREFUSED']);
    });

    it('times out at the deadline on a frozen (SIGSTOP) server, and drops its connection', async () => {
      db!.freeze();
      try {
        const r = await runProbe(spec({ timeoutMs: 1000 }));
        assert.deepEqual([r.up, r.reason], [false, 'timed out after 1 s']);
        // Our end of the connection is gone (the frozen server still holds its end).
        assert.ok(
          await eventually(() => !tcpSocketsTo(MY, db!.port).some((s) => s.state === '01')),
          'the check left its connection established',
        );
      } finally {
        db!.thaw();
      }
      const again = await runProbe(spec());
      assert.equal(again.up, true, again.reason);
    });

    it('times out at the deadline on a frozen server mid-query', async () => {
      // Log in, then freeze while the query runs: SLEEP keeps it busy past the freeze.
      const p = runProbe(spec({ query: 'SELECT SLEEP(0.3), 1', timeoutMs: 1500 }));
      await new Promise((r) => setTimeout(r, 150));
      db!.freeze();
      try {
        const r = await p;
        assert.equal(r.up, false);
        assert.equal(r.reason, 'timed out after 1.5 s');
      } finally {
        db!.thaw();
      }
    });

    it('is down with connect ECONNREFUSED once the server is stopped', async () => {
      const port = db!.port;
      await db!.stop();
      const r = await runProbe(spec({ port }));
      assert.deepEqual([r.up, r.reason], [false, 'connect ECONNREFUSED']);
    });
  });

  describe('pgsql (PostgreSQL)', () => {
    let pg: Postgres | undefined;
    const spec = (over: Partial<SqlSpec> = {}): SqlSpec => ({
      kind: 'sql',
      engine: 'pgsql',
      host: PG,
      port: pg!.port,
      user: 'ldcheck',
      password: PASSWORD,
      database: 'ldtest',
      query: 'SELECT * FROM health',
      timeoutMs: 5000,
      ...over,
    });

    before(async function () {
      requirePart(this, Postgres.missing());
      pg = await Postgres.start({ host: PG, user: 'ldcheck', password: PASSWORD, database: 'ldtest', setup });
    });
    after(async () => {
      await pg?.remove();
    });

    it('is up when the query returns rows', async () => {
      const r = await runProbe(spec());
      assert.deepEqual([r.up, r.reason], [true, 'query returned 2 rows']);
    });

    it('is down when the query returns no rows', async () => {
      const r = await runProbe(spec({ query: 'SELECT * FROM empty_table' }));
      assert.deepEqual([r.up, r.reason], [false, 'query returned no rows']);
    });

    it('is down with the SQLSTATE on a wrong password, which never shows', async () => {
      const r = await runProbe(spec({ password: 'wrong-password' }));
      assert.deepEqual([r.up, r.reason], [false, 'PostgreSQL 28P01 invalid_password']);
    });

    it('is down on a missing database', async () => {
      const r = await runProbe(spec({ database: 'no_such_db' }));
      assert.deepEqual([r.up, r.reason], [false, 'PostgreSQL 3D000 invalid_catalog_name']);
    });

    it('is down on a query error', async () => {
      const r = await runProbe(spec({ query: 'SELECT * FROM no_such_table' }));
      assert.deepEqual([r.up, r.reason], [false, 'PostgreSQL 42P01 undefined_table']);
    });

    it('times out at the deadline on a frozen (SIGSTOP) server', async () => {
      pg!.freeze();
      try {
        const r = await runProbe(spec({ timeoutMs: 1000 }));
        assert.deepEqual([r.up, r.reason], [false, 'timed out after 1 s']);
      } finally {
        pg!.thaw();
      }
      const again = await runProbe(spec());
      assert.equal(again.up, true, again.reason);
    });

    it('is down with connect ECONNREFUSED once the server is stopped', async () => {
      const port = pg!.port;
      await pg!.stop();
      const r = await runProbe(spec({ port }));
      assert.deepEqual([r.up, r.reason], [false, 'connect ECONNREFUSED']);
    });
  });

  describe('pgsql against a server that only accepts TLS (pg_hba hostssl)', () => {
    let pg: Postgres | undefined;
    const spec = (over: Partial<SqlSpec> = {}): SqlSpec => ({
      kind: 'sql',
      engine: 'pgsql',
      host: PG_TLS,
      port: pg!.port,
      user: 'ldcheck',
      password: PASSWORD,
      database: 'ldtest',
      query: 'SELECT * FROM health',
      timeoutMs: 5000,
      ...over,
    });
    before(async function () {
      requirePart(this, Postgres.missing());
      const cert = await selfSigned('postgres.test');
      if (typeof cert === 'string') return requirePart(this, cert);
      pg = await Postgres.start({
        host: PG_TLS,
        user: 'ldcheck',
        password: PASSWORD,
        database: 'ldtest',
        setup,
        tls: cert,
        hba: ['hostnossl all all 0.0.0.0/0 reject'],
      });
      return undefined;
    });
    after(async () => {
      await pg?.remove();
    });

    it('logs in over TLS after the plain attempt is refused (libpq sslmode=prefer, as DBD::Pg)', async () => {
      const r = await runProbe(spec());
      assert.deepEqual([r.up, r.reason], [true, 'query returned 2 rows']);
    });

    it('still reports a wrong password', async () => {
      const r = await runProbe(spec({ password: 'nope' }));
      assert.deepEqual([r.up, r.reason], [false, 'PostgreSQL 28P01 invalid_password']);
    });
  });

  it('oracle is refused (the parser rejects it first)', async () => {
    const r = await runProbe({ kind: 'oracle', timeoutMs: 1000 });
    assert.deepEqual([r.up, r.reason], [false, 'service=oracle negotiate checks are not supported']);
  });
});
