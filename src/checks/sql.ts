/**
 * service=mysql and service=pgsql negotiate checks (Perl check_sql, DBI).
 *
 * Log in as `login`/`passwd` to `database` on the real's check port, run the request
 * (without its leading '/'), and be up when it returns at least one row (for a statement
 * that returns no rows, when it affected at least one, as DBI's $sth->rows counts).
 * MySQL/MariaDB through mysql2, PostgreSQL through pg; both are pure JavaScript and are
 * loaded the first time a check of theirs runs.
 *
 * Differences from Perl, on purpose:
 *   - the connect, the login and the query are bounded by the check's deadline (Perl's
 *     check_sql had no timeout at all and could hang the daemon: W-15); at the deadline
 *     the socket is destroyed;
 *   - the query runs once (Perl ran it twice and counted the second run), and the check
 *     stops reading at the first row: a server streaming rows without end costs one row;
 *   - service=oracle is refused when the configuration is read (no Oracle here to test
 *     against).
 * Reasons name the error (`MySQL ER_ACCESS_DENIED_ERROR`, `PostgreSQL 28P01
 * invalid_password`), never the server's message text, and never the password.
 */
import type { Connection as MysqlConnection } from 'mysql2';
import type { Client as PgClient } from 'pg';
import { aborted, down, inert, session, up, type Cause, type Verdict } from './kernel';
import { defineKind, negotiateBase } from './kind';

export interface SqlSpec {
  kind: 'sql';
  engine: 'mysql' | 'pgsql';
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  query: string;
  timeoutMs: number;
}

export const sql = defineKind<SqlSpec>({
  services: { mysql: 3306, pgsql: 5432 },
  requires: { login: true, request: true },
  spec: (t) => ({
    kind: 'sql',
    ...negotiateBase(t),
    engine: t.service === 'pgsql' ? 'pgsql' : 'mysql',
    user: t.login,
    password: t.passwd,
    database: t.database,
    query: t.request.replace(/^\//, ''),
  }),
  run: (spec, { signal }) => (spec.engine === 'mysql' ? mysqlCheck(spec, signal) : pgsqlCheck(spec, signal)),
  preload: async (service) => (service === 'pgsql' ? (pg ??= await loadPg()) : (mysql2 ??= await loadMysql())),
});

/**
 * Rows read before the check stops reading: a health query returns a handful, and a
 * server that streams rows without end is cut off here (up: it did return rows).
 */
const MAX_ROWS = 100;

const rowsReason = (n: number) => `query returned ${n} row${n === 1 ? '' : 's'}`;
const counted = (n: number): Verdict => (n > 0 ? up(rowsReason(n)) : down('mismatch', 'query returned no rows'));

/** Network-level failures, reported as the connect check reports them. */
const NET_CODES: Record<string, Cause> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'closed',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  ETIMEDOUT: 'timeout',
  EADDRNOTAVAIL: 'unreachable',
  EPIPE: 'closed',
  ENOTFOUND: 'unreachable',
  EAI_AGAIN: 'unreachable',
};

/** A library's own message, bounded, unless it holds the password (it should not, but never print it). */
function libraryMessage(e: unknown, password: string): string {
  const msg = (e as Error)?.message ?? String(e);
  return password && msg.includes(password) ? '(message withheld: it contains the password)' : inert(msg, 200);
}

/** A socket's polite end: the driver's goodbye, then cut off if the server does not close. */
function goodbye(end: () => void, destroy: () => void): void {
  end();
  setTimeout(destroy, 1000).unref();
}

// --- MySQL / MariaDB ------------------------------------------------------------------

const MYSQL_AUTH = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_NOT_SUPPORTED_AUTH_MODE']);

function mysqlVerdict(e: unknown, connected: boolean, password: string): Verdict {
  const code = (e as { code?: string })?.code;
  if (code && NET_CODES[code]) return down(NET_CODES[code], `${connected ? 'MySQL connection' : 'connect'} ${code}`);
  if (code === 'PROTOCOL_CONNECTION_LOST') return down('closed', 'MySQL connection closed by the server');
  if (code) return down(MYSQL_AUTH.has(code) ? 'auth' : 'status', `MySQL ${code}`);
  return down('error', `MySQL error: ${libraryMessage(e, password)}`);
}

/** The drivers, loaded the first time a check of theirs runs. */
const loadMysql = () => import('mysql2');
const loadPg = () => import('pg');
let mysql2: Awaited<ReturnType<typeof loadMysql>> | undefined;
let pg: Awaited<ReturnType<typeof loadPg>> | undefined;

async function mysqlCheck(spec: SqlSpec, signal: AbortSignal): Promise<Verdict> {
  const driver = (mysql2 ??= await loadMysql());
  let connected = false;
  let polite = false;
  return session(
    signal,
    (settle) => {
      const c: MysqlConnection = driver.createConnection({
        host: spec.host,
        port: spec.port,
        user: spec.user,
        password: spec.password,
        database: spec.database || undefined,
        // The check's signal is the deadline; mysql2's own (10 s default) would end a
        // longer negotiatetimeout early.
        connectTimeout: spec.timeoutMs + 60_000,
        multipleStatements: false,
        supportBigNumbers: true,
        dateStrings: true,
      });
      c.on('error', () => undefined); // reported through the callbacks below
      c.connect((err) => {
        if (err) return settle(mysqlVerdict(err, false, spec.password));
        connected = true;
        // Rows are counted as they arrive, and not kept; at MAX_ROWS the check stops, and
        // the driver is paused at once: a server streaming rows without end would otherwise
        // have every row of what has arrived parsed (a hundred thousand in one turn).
        const q = c.query({ sql: spec.query, rowsAsArray: true });
        let rows = 0;
        let enough = false;
        q.on('result', (row: unknown) => {
          if (enough) return;
          const header = row as { affectedRows?: number };
          if (!Array.isArray(row) && typeof header.affectedRows === 'number') rows = header.affectedRows;
          else if (++rows >= MAX_ROWS) {
            enough = true;
            c.pause();
            settle(counted(rows));
          }
        });
        q.on('error', (qerr: Error & { fatal?: boolean }) => {
          polite = !qerr.fatal;
          settle(mysqlVerdict(qerr, connected, spec.password));
        });
        q.on('end', () => {
          polite = true;
          settle(counted(rows));
        });
      });
      // mysql2's destroy() only half-closes (stream.end()): a server streaming rows into
      // a paused socket kept it, its parsed packets and the driver's state for its own
      // write timeout (a minute), about 1 MiB a check. Cutting off is the socket's destroy.
      const cutOff = () => {
        c.destroy();
        (c as { stream?: { destroy(): void } }).stream?.destroy();
      };
      return () => {
        // COM_QUIT after a finished exchange; a server mid-stream or hung is cut off.
        if (polite) goodbye(() => c.end(() => undefined), cutOff);
        else cutOff();
      };
    },
    () => aborted(signal),
    (e) => mysqlVerdict(e, false, spec.password),
  );
}

// --- PostgreSQL -----------------------------------------------------------------------

/** Condition names of the SQLSTATEs a health check meets (PostgreSQL appendix A). */
const PG_STATES: Record<string, string> = {
  '08000': 'connection_exception',
  '08006': 'connection_failure',
  '08P01': 'protocol_violation',
  '28000': 'invalid_authorization_specification',
  '28P01': 'invalid_password',
  '3D000': 'invalid_catalog_name',
  '3F000': 'invalid_schema_name',
  '42501': 'insufficient_privilege',
  '42601': 'syntax_error',
  '42703': 'undefined_column',
  '42883': 'undefined_function',
  '42P01': 'undefined_table',
  '53300': 'too_many_connections',
  '55000': 'object_not_in_prerequisite_state',
  '57014': 'query_canceled',
  '57P01': 'admin_shutdown',
  '57P02': 'crash_shutdown',
  '57P03': 'cannot_connect_now',
  '25006': 'read_only_sql_transaction',
};

function pgVerdict(e: unknown, connected: boolean, password: string): Verdict {
  const err = e as { code?: string; message?: string };
  const code = err?.code;
  if (code && NET_CODES[code])
    return down(NET_CODES[code], `${connected ? 'PostgreSQL connection' : 'connect'} ${code}`);
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    const cause: Cause = code.startsWith('28') ? 'auth' : 'status';
    return down(cause, `PostgreSQL ${code}${PG_STATES[code] ? ' ' + PG_STATES[code] : ''}`);
  }
  if (/terminated/i.test(err?.message ?? '')) return down('closed', 'PostgreSQL connection closed by the server');
  if (/does not support SSL/i.test(err?.message ?? '')) return down('tls', 'PostgreSQL server does not support SSL');
  return down('error', `PostgreSQL error: ${code ?? libraryMessage(e, password)}`);
}

/**
 * libpq (Perl's DBD::Pg) used sslmode=prefer. This connects without TLS first and, when
 * the server's pg_hba.conf refuses an unencrypted connection, tries again with TLS
 * (certificate not verified, as libpq's prefer): the same outcome, one round trip less
 * for the common case.
 */
const needsTls = (e: unknown) =>
  (e as { code?: string })?.code === '28000' && /no encryption/i.test((e as Error)?.message ?? '');

async function pgsqlCheck(spec: SqlSpec, signal: AbortSignal): Promise<Verdict> {
  const driver = (pg ??= await loadPg());
  const first = await pgAttempt(driver, spec, signal, false);
  if (first.retryTls && !signal.aborted) return (await pgAttempt(driver, spec, signal, true)).verdict;
  return first.verdict;
}

function pgAttempt(
  driver: NonNullable<typeof pg>,
  spec: SqlSpec,
  signal: AbortSignal,
  tls: boolean,
): Promise<{ verdict: Verdict; retryTls: boolean }> {
  let connected = false;
  let polite = false;
  return session<{ verdict: Verdict; retryTls: boolean }>(
    signal,
    (settle) => {
      const client: PgClient = new driver.Client({
        host: spec.host,
        port: spec.port,
        user: spec.user,
        password: spec.password,
        database: spec.database || spec.user,
        ssl: tls ? { rejectUnauthorized: false } : false,
        application_name: 'ldirectord',
        connectionTimeoutMillis: 0, // the check's signal is the deadline
        keepAlive: false,
      });
      const done = (verdict: Verdict, retryTls = false) => settle({ verdict, retryTls });
      client.on('error', () => undefined); // reported through the promises below
      client.connect().then(
        () => {
          connected = true;
          // Rows come in pages of MAX_ROWS (an extended-protocol portal) and are counted,
          // not kept: a server with endless rows is never read past the first page.
          // (pg's types leave out rowMode and rows, which its Query takes.)
          const config = { text: spec.query, rowMode: 'array', rows: MAX_ROWS };
          const q = new driver.Query(config as ConstructorParameters<typeof driver.Query>[0]);
          let rows = 0;
          q.on('row', () => {
            if (++rows < MAX_ROWS) return;
            polite = true;
            done(counted(rows));
          });
          q.on('end', (res: { command?: string; rowCount?: number | null; rows?: unknown[] }) => {
            polite = true;
            done(counted(res?.command === 'SELECT' || res?.rowCount == null ? rows : res.rowCount));
          });
          q.on('error', (e: unknown) => {
            polite = true;
            done(pgVerdict(e, connected, spec.password));
          });
          void client.query(q);
        },
        (e: unknown) => done(pgVerdict(e, connected, spec.password), !tls && needsTls(e)),
      );
      return () => {
        const destroy = () => client.connection.stream.destroy();
        if (polite) goodbye(() => void client.end().catch(() => undefined), destroy);
        else destroy();
      };
    },
    () => ({ verdict: aborted(signal), retryTls: false }),
    (e) => ({ verdict: pgVerdict(e, false, spec.password), retryTls: false }),
  );
}
