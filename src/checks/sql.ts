/**
 * service=mysql and service=pgsql negotiate checks (Perl check_sql, DBI).
 *
 * Log in as `login`/`passwd` to `database` on the real's check port, run the request
 * (without its leading '/'), and be up when it returns at least one row (for a statement
 * that returns no rows, when it affected at least one, as DBI's $sth->rows counts).
 * MySQL/MariaDB through mysql2, PostgreSQL through pg; both are pure JavaScript.
 *
 * Differences from Perl, on purpose:
 *   - the connect, the login and the query are bounded by the check's deadline (Perl's
 *     check_sql had no timeout at all and could hang the daemon: W-15); at the deadline
 *     the socket is destroyed;
 *   - the query runs once (Perl ran it twice and counted the second run);
 *   - service=oracle is refused when the configuration is read (no Oracle here to test
 *     against); the check says so if ever reached.
 * Reasons name the error (`MySQL ER_ACCESS_DENIED_ERROR`, `PostgreSQL 28P01
 * invalid_password`), never the server's message text, and never the password.
 */
import { createConnection, type Connection as MysqlConnection } from 'mysql2';
import { Client as PgClient, type QueryResult } from 'pg';
import type { Check, SqlSpec } from './types';
import { timeoutReason } from './reason';

type Result = { up: boolean; reason: string };

function abortReason(signal: AbortSignal, timeoutMs: number): string {
  if (signal.reason instanceof Error) return signal.reason.message;
  return timeoutReason(timeoutMs);
}

const rowsReason = (n: number) => `query returned ${n} row${n === 1 ? '' : 's'}`;
const counted = (n: number): Result =>
  n > 0 ? { up: true, reason: rowsReason(n) } : { up: false, reason: 'query returned no rows' };

/** Network-level failures, reported as the connect check reports them. */
const NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

export const checkSql: Check<SqlSpec> = async (spec, ctx) => {
  let r: Result;
  if (ctx.signal.aborted) return { up: false, reason: abortReason(ctx.signal, spec.timeoutMs) };
  if (spec.kind === 'mysql') r = await mysqlCheck(spec, ctx.signal);
  else if (spec.kind === 'pgsql') r = await pgsqlCheck(spec, ctx.signal);
  else r = { up: false, reason: `service=${spec.kind} negotiate checks are not supported` };
  return r;
};

/** A library's own message, unless it holds the password (it should not, but never print it). */
function libraryMessage(e: unknown, password: string): string {
  const msg = (e as Error)?.message ?? String(e);
  return password && msg.includes(password) ? '(message withheld: it contains the password)' : msg;
}

// --- MySQL / MariaDB ------------------------------------------------------------------

function mysqlReason(e: unknown, connected: boolean, password: string): string {
  const err = e as { code?: string; sqlState?: string; fatal?: boolean; message?: string };
  const code = err?.code;
  if (code && NET_CODES.has(code)) return `${connected ? 'MySQL connection' : 'connect'} ${code}`;
  if (code === 'PROTOCOL_CONNECTION_LOST') return 'MySQL connection closed by the server';
  if (code) return `MySQL ${code}`;
  return `MySQL error: ${libraryMessage(e, password)}`;
}

function mysqlRows(results: unknown): number {
  if (Array.isArray(results)) {
    // A CALL returns [rows, ..., header]; count the first result set.
    if (results.length > 0 && Array.isArray(results[0])) return (results[0] as unknown[]).length;
    return results.length;
  }
  return (results as { affectedRows?: number })?.affectedRows ?? 0;
}

function mysqlCheck(spec: SqlSpec, signal: AbortSignal): Promise<Result> {
  return new Promise((resolve) => {
    let conn: MysqlConnection;
    let done = false;
    let connected = false;
    const finish = (r: Result, polite: boolean) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      if (polite) {
        // COM_QUIT, then close; a server that stops answering now is cut off soon after.
        conn.end(() => undefined);
        setTimeout(() => conn.destroy(), 1000).unref();
      } else conn.destroy();
      resolve(r);
    };
    const onAbort = () => finish({ up: false, reason: abortReason(signal, spec.timeoutMs) }, false);
    try {
      conn = createConnection({
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
    } catch (e) {
      return resolve({ up: false, reason: mysqlReason(e, false, spec.password) });
    }
    conn.on('error', () => undefined); // reported through the callbacks below
    signal.addEventListener('abort', onAbort, { once: true });
    conn.connect((err) => {
      if (err) return finish({ up: false, reason: mysqlReason(err, false, spec.password) }, false);
      connected = true;
      conn.query({ sql: spec.query, rowsAsArray: true }, (qerr, results) => {
        if (qerr) return finish({ up: false, reason: mysqlReason(qerr, connected, spec.password) }, !qerr.fatal);
        finish(counted(mysqlRows(results)), true);
      });
    });
  });
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

function pgReason(e: unknown, connected: boolean, password: string): string {
  const err = e as { code?: string; message?: string };
  const code = err?.code;
  if (code && NET_CODES.has(code)) return `${connected ? 'PostgreSQL connection' : 'connect'} ${code}`;
  if (code && /^[0-9A-Z]{5}$/.test(code)) return `PostgreSQL ${code}${PG_STATES[code] ? ' ' + PG_STATES[code] : ''}`;
  if (/terminated/i.test(err?.message ?? '')) return 'PostgreSQL connection closed by the server';
  if (/does not support SSL/i.test(err?.message ?? '')) return 'PostgreSQL server does not support SSL';
  return `PostgreSQL error: ${code ?? libraryMessage(e, password)}`;
}

/**
 * libpq (Perl's DBD::Pg) used sslmode=prefer. This connects without TLS first and, when
 * the server's pg_hba.conf refuses an unencrypted connection, tries again with TLS
 * (certificate not verified, as libpq's prefer): the same outcome, one round trip less
 * for the common case.
 */
const needsTls = (e: unknown) =>
  (e as { code?: string })?.code === '28000' && /no encryption/i.test((e as Error)?.message ?? '');

async function pgsqlCheck(spec: SqlSpec, signal: AbortSignal): Promise<Result> {
  const first = await pgAttempt(spec, signal, false);
  if (first.retryTls && !signal.aborted) return (await pgAttempt(spec, signal, true)).result;
  return first.result;
}

function pgAttempt(spec: SqlSpec, signal: AbortSignal, tls: boolean): Promise<{ result: Result; retryTls: boolean }> {
  return new Promise((resolve) => {
    let done = false;
    let connected = false;
    const client = new PgClient({
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
    const finish = (result: Result, polite: boolean, retryTls = false) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      if (polite) {
        client.end().catch(() => undefined);
        setTimeout(() => client.connection.stream.destroy(), 1000).unref();
      } else client.connection.stream.destroy();
      resolve({ result, retryTls });
    };
    const onAbort = () => finish({ up: false, reason: abortReason(signal, spec.timeoutMs) }, false);
    client.on('error', () => undefined); // reported through the promises below
    signal.addEventListener('abort', onAbort, { once: true });
    client.connect().then(
      () => {
        connected = true;
        if (done) return;
        client.query({ text: spec.query, rowMode: 'array' }).then(
          (res: QueryResult | QueryResult[]) => {
            const last = Array.isArray(res) ? res[res.length - 1] : res;
            finish(
              counted(last?.command === 'SELECT' || last?.rowCount == null ? (last?.rows.length ?? 0) : last.rowCount),
              true,
            );
          },
          (e: unknown) => finish({ up: false, reason: pgReason(e, connected, spec.password) }, true),
        );
      },
      (e: unknown) => finish({ up: false, reason: pgReason(e, connected, spec.password) }, false, !tls && needsTls(e)),
    );
  });
}
