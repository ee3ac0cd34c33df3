/**
 * service=http, https, http_proxy negotiate checks (Perl check_http, LWP::UserAgent).
 *
 * What the Perl daemon did, and what this does the same way:
 *   - `<httpmethod> <url>` with `Host: <virtualhost or real address>` (none for http_proxy,
 *     where the real server is the proxy and the URL is absolute);
 *   - HTTP/1.1, no pipelining;
 *   - redirects followed as LWP does: 301/302/303/307/308 with a Location, at most 7, the
 *     method kept (only GET and HEAD are ever used), the Host header dropped; after the
 *     7th the last 3xx is the answer (so the real is down);
 *   - up when the final status is 2xx and the receive regex (if any) matches the body,
 *     matched as a byte string (latin1), so HEAD with a receive is always down;
 *   - the whole exchange, redirects included, is bounded by the check's deadline.
 * Deliberate differences:
 *   - the connection to a real is kept open and reused by its next checks (recycled every
 *     REQUESTS_PER_CONNECTION checks), where Perl opened one per check (`Connection:
 *     close`). A TCP connect and close cost more than the whole HTTP exchange, and are
 *     what keeps a check-per-connection daemon far from 10,000 checks a second. A server
 *     that dies or resets is seen at the next check as before (the reused connection
 *     fails, and a fresh one is refused); only a server that stops accepting new
 *     connections while serving its old ones is seen later, at recycling. A check that
 *     finds its idle connection just closed by the server retries once on a fresh one.
 *     LDIRECTORD_HTTP_FRESH_CONNECTIONS=1 restores one connection per check;
 *   - W-10 fixed: the certificate is not verified (self-signed and private-CA reals work);
 *   - IPv6 reals work (Perl died without Net::INET6Glue);
 *   - the body read stops at 1 MiB and the receive is matched against that much.
 *
 * One undici Agent is shared by every check (created on first use). Its connector ties
 * each TCP/TLS connect to the check that caused it, so a connect or TLS handshake still in
 * progress at the deadline is destroyed then (undici alone would leave it running).
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { fromByteString } from '../parser/perl-regex';
import type { Check, HttpSpec } from './types';
import { timeoutReason } from './reason';

/** The body is read up to this many bytes; the receive is matched against that much. */
const BODY_CAP = 1024 * 1024;
/** LWP's limit (max_redirect). */
const MAX_REDIRECTS = 7;
/**
 * The User-Agent the Perl daemon sent (LWP's default), kept so web-server rules that
 * recognise health checks by it (log filters, access rules) keep working after a switch.
 */
const USER_AGENT = 'libwww-perl/6.68';
/** A connect that no check claims (should not happen) is still given up after this. */
const ORPHAN_CONNECT_MS = 60_000;
/** Checks carried by one kept-alive connection before it is replaced by a fresh one. */
const REQUESTS_PER_CONNECTION = 60;
/** One connection per check, as Perl did (LDIRECTORD_HTTP_FRESH_CONNECTIONS=1). */
const FRESH = process.env.LDIRECTORD_HTTP_FRESH_CONNECTIONS === '1';

// --- one dispatcher per probe ---------------------------------------------------------

/**
 * Each probe (an HttpSpec object: one real, one check) has its own undici Agent, so the
 * connection it keeps is its own. A probe's checks never overlap, so its agent always
 * knows which check a connect belongs to: a connect or TLS handshake still running at
 * that check's deadline is destroyed then (undici alone would leave it running), and
 * never on behalf of another probe's deadline. Sharing one agent would queue two probes
 * of the same server (two virtuals checking one real) behind one connection, and let one
 * probe's deadline tear down a connection the other was waiting for.
 */
interface ProbeConn {
  agent: Agent;
  /** The signal of this probe's check in progress (null between checks). */
  signal: AbortSignal | null;
}

const conns = new Map<HttpSpec, ProbeConn>();
const connector = buildConnector({ rejectUnauthorized: false, timeout: 0 }) as unknown as (o: buildConnector.Options, cb: buildConnector.Callback) => Socket;

function connFor(spec: HttpSpec): ProbeConn {
  let c = conns.get(spec);
  if (c) return c;
  const conn: ProbeConn = { agent: undefined as unknown as Agent, signal: null };
  const connect: buildConnector.connector = (opts, callback) => {
    const signal = conn.signal;
    let settled = false;
    let sock: Socket | undefined;
    const giveUp = (err: Error) => {
      if (!settled) sock?.destroy(err);
    };
    const onAbort = () => giveUp(new Error('check ended while connecting'));
    const orphan = signal ? undefined : setTimeout(() => giveUp(new Error('connect timed out')), ORPHAN_CONNECT_MS);
    signal?.addEventListener('abort', onAbort, { once: true });
    // buildConnector's connector returns the socket it creates (its type says void).
    sock = connector(opts, (...args) => {
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (orphan) clearTimeout(orphan);
      callback(...args);
    });
    if (signal?.aborted) onAbort();
  };
  conn.agent = new Agent({
    connect,
    // The check's signal bounds every phase; undici's own timers would cut long checks
    // (negotiatetimeout defaults to 30 s) short.
    headersTimeout: 0,
    bodyTimeout: 0,
    pipelining: 1,
    // One connection kept between the probe's checks (checkinterval is usually 1-10 s;
    // the server's own Keep-Alive timeout hint, when it sends one, wins).
    connections: 1,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
    maxRequestsPerClient: REQUESTS_PER_CONNECTION,
  });
  conns.set(spec, conn);
  return conn;
}

/** Free a probe's kept connection (the probe was removed or replaced by a reload). */
export function releaseHttp(spec: HttpSpec): void {
  const c = conns.get(spec);
  if (!c) return;
  conns.delete(spec);
  void c.agent.destroy().catch(() => undefined);
}

/** Close every kept connection (daemon stop, tests). */
export async function closeHttpAgent(): Promise<void> {
  const all = [...conns.values()];
  conns.clear();
  await Promise.all(all.map((c) => c.agent.destroy().catch(() => undefined)));
}

// --- one request ----------------------------------------------------------------------

interface Hop {
  status: number;
  statusLine: string;
  location: string | undefined;
  /** Body bytes read (up to BODY_CAP), or null when not kept. */
  body: Buffer | null;
  bytes: number;
  capped: boolean;
}

class HopError extends Error {
  constructor(
    message: string,
    /** Failed on an established connection before any response: worth one fresh retry. */
    readonly retryable = false,
  ) {
    super(message);
  }
}

const TCP_CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'EADDRINUSE', 'ENOTFOUND', 'EAI_AGAIN', 'EACCES', 'EPERM', 'EINVAL']);

function errCode(e: unknown): string | undefined {
  const err = e as { code?: string; cause?: { code?: string } };
  return err?.code && !err.code.startsWith('UND_ERR') ? err.code : (err?.cause?.code ?? err?.code);
}

/** The reason for an error, by how far the exchange had got. */
function describe(e: unknown, phase: 'connect' | 'request' | 'body', tls: boolean, statusLine: string): string {
  const code = errCode(e);
  const msg = (e as Error)?.message ?? String(e);
  if (phase === 'connect') {
    if (tls && !(code && TCP_CONNECT_CODES.has(code))) return `TLS handshake failed: ${code && code !== 'ECONNRESET' ? code : msg}`;
    return `connect ${code ?? msg}`;
  }
  let what: string;
  if (code === 'ECONNRESET') what = 'connection reset (ECONNRESET)';
  else if (code === 'UND_ERR_SOCKET') what = 'connection closed by the server';
  else if (code?.startsWith('HPE_')) what = `invalid HTTP response (${code})`;
  else if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') what = 'body shorter than its Content-Length';
  else what = code ? `${msg} (${code})` : msg;
  return phase === 'request' ? `no response: ${what}` : `${statusLine}, then the body failed: ${what}`;
}

function oneRequest(conn: ProbeConn, url: URL, method: 'GET' | 'HEAD', host: string | null, auth: string | null, proxy: URL | null, keepBody: boolean, signal: AbortSignal): Promise<Hop> {
  return new Promise<Hop>((resolve, reject) => {
    const tls = url.protocol === 'https:';
    // LWP's proxy was set for the http scheme only: https goes direct even for http_proxy.
    const viaProxy = proxy !== null && url.protocol === 'http:';
    const headers: Record<string, string> = { 'user-agent': USER_AGENT };
    if (host !== null) headers.host = host;
    else if (viaProxy) headers.host = url.host;
    if (auth) headers.authorization = auth;
    const opts: Dispatcher.DispatchOptions = {
      origin: viaProxy ? proxy.origin : url.origin,
      path: viaProxy ? url.href.replace(/#.*$/, '') : url.pathname + url.search,
      method,
      headers,
      reset: FRESH, // Connection: close, as LWP sent, only when asked for
      idempotent: true,
    };
    let phase: 'connect' | 'request' | 'body' = 'connect';
    let controller: Dispatcher.DispatchController | null = null;
    let done = false;
    const chunks: Buffer[] = [];
    let hop: Hop | null = null;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else {
        if (keepBody && hop) hop.body = Buffer.concat(chunks, Math.min(hop.bytes, BODY_CAP));
        resolve(hop!);
      }
    };
    const onAbort = () => {
      controller?.abort(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      finish(new HopError('aborted'));
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        phase = 'request';
        if (done) c.abort(new Error('aborted'));
      },
      onResponseStart(c, status, hdrs, statusMessage) {
        controller = c;
        if (status < 200) return; // 1xx: wait for the real answer
        phase = 'body';
        const text = statusMessage || STATUS_CODES[status] || 'Unknown code';
        const loc = hdrs.location;
        hop = { status, statusLine: `HTTP ${status} ${text}`, location: Array.isArray(loc) ? loc[0] : loc, body: null, bytes: 0, capped: false };
      },
      onResponseData(c, chunk) {
        if (done || !hop) return;
        if (hop.bytes + chunk.length > BODY_CAP) {
          if (keepBody) chunks.push(chunk.subarray(0, BODY_CAP - hop.bytes));
          hop.bytes = BODY_CAP;
          hop.capped = true;
          finish(null);
          // Stop reading: the connection is destroyed, the rest is never fetched.
          c.abort(new Error('body cap reached'));
          return;
        }
        if (keepBody) chunks.push(chunk);
        hop.bytes += chunk.length;
      },
      onResponseEnd() {
        finish(null);
      },
      onResponseError(_c, err) {
        if (done) return;
        const code = errCode(err);
        const retryable = phase === 'request' && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE');
        finish(new HopError(describe(err, phase, tls, hop?.statusLine ?? ''), retryable));
      },
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      conn.agent.dispatch(opts, handler);
    } catch (e) {
      finish(new HopError(describe(e, 'connect', tls, '')));
    }
  });
}

// --- the check ------------------------------------------------------------------------

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function abortReason(signal: AbortSignal, timeoutMs: number): string {
  if (signal.reason instanceof Error) return signal.reason.message;
  return timeoutReason(timeoutMs);
}

function basicAuth(url: URL): string {
  const dec = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  return 'Basic ' + Buffer.from(`${dec(url.username)}:${dec(url.password)}`, 'latin1').toString('base64');
}

/** `512 B`, `2 KiB`, `1.5 KiB`, `1 MiB`. */
function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const [v, unit] = n < 1024 * 1024 ? [n / 1024, 'KiB'] : [n / (1024 * 1024), 'MiB'];
  return `${v < 10 && Math.round(v * 10) % 10 !== 0 ? v.toFixed(1) : Math.round(v)} ${unit}`;
}

/** The receive pattern as people wrote it (the RegExp holds a byte-string translation). */
function showReceive(re: RegExp): string {
  const s = fromByteString(re.source);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** Parsed URLs per spec: specs live as long as their config, checks run every second. */
const parsed = new WeakMap<HttpSpec, { url: URL; proxy: URL | null } | null>();

function urlsOf(spec: HttpSpec): { url: URL; proxy: URL | null } | null {
  let p = parsed.get(spec);
  if (p === undefined) {
    try {
      p = { url: new URL(spec.url), proxy: spec.proxy === null ? null : new URL(spec.proxy) };
    } catch {
      p = null;
    }
    parsed.set(spec, p);
  }
  return p;
}

export const checkHttp: Check<HttpSpec> = async (spec, { signal }) => {
  const urls = urlsOf(spec);
  if (urls === null) return { up: false, reason: `invalid URL ${spec.url.replace(/\/\/[^/@]*@/, '//***@')}` };
  let url = urls.url;
  const proxy = urls.proxy;
  const conn = connFor(spec);
  conn.signal = signal;
  try {
    return await exchange(spec, conn, url, proxy, signal);
  } finally {
    conn.signal = null;
  }
};

async function exchange(spec: HttpSpec, conn: ProbeConn, first: URL, proxy: URL | null, signal: AbortSignal): Promise<{ up: boolean; reason: string }> {
  let url = first;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { up: false, reason: `unsupported URL scheme ${url.protocol.slice(0, -1)}` };
  const keepBody = spec.receive !== null && spec.method === 'GET';
  let host = spec.hostHeader;
  let auth: string | null = null;
  let redirects = 0;
  let hop: Hop;
  for (;;) {
    // LWP turns user:password@ in the URL into basic authentication, and keeps the
    // header on a redirect (it only drops Host and Cookie).
    if (url.username || url.password) auth = basicAuth(url);
    try {
      hop = await oneRequest(conn, url, spec.method, host, auth, proxy, keepBody, signal);
    } catch (e) {
      if (signal.aborted) return { up: false, reason: abortReason(signal, spec.timeoutMs) };
      // A kept-alive connection the server closed while idle fails before any response:
      // that says nothing about the server, so ask once more on a fresh connection.
      if (!FRESH && e instanceof HopError && e.retryable) {
        try {
          hop = await oneRequest(conn, url, spec.method, host, auth, proxy, keepBody, signal);
        } catch (e2) {
          if (signal.aborted) return { up: false, reason: abortReason(signal, spec.timeoutMs) };
          return { up: false, reason: e2 instanceof HopError ? e2.message : String(e2) };
        }
      } else return { up: false, reason: e instanceof HopError ? e.message : String(e) };
    }
    if (!REDIRECTS.has(hop.status) || !hop.location) break;
    let next: URL;
    try {
      next = new URL(hop.location, url);
    } catch {
      break;
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') break;
    if (redirects === MAX_REDIRECTS) return { up: false, reason: `${hop.statusLine} (more than ${MAX_REDIRECTS} redirects)` };
    redirects++;
    url = next;
    host = null; // LWP builds the redirected request without the Host override
  }
  const via = redirects ? ` (after ${redirects} redirect${redirects > 1 ? 's' : ''})` : '';
  if (hop.status < 200 || hop.status > 299) return { up: false, reason: hop.statusLine + via };
  if (spec.receive === null) return { up: true, reason: hop.statusLine + via };
  const want = showReceive(spec.receive);
  if (spec.method === 'HEAD') return { up: false, reason: `${hop.statusLine}${via}, but receive "${want}" cannot match: a HEAD response has no body` };
  const body = hop.body!.toString('latin1');
  spec.receive.lastIndex = 0;
  if (spec.receive.test(body)) return { up: true, reason: hop.statusLine + via };
  return { up: false, reason: `receive "${want}" not found in ${hop.capped ? `the first ${formatBytes(BODY_CAP)} of the` : formatBytes(hop.bytes)} body` };
}
