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
 * Each probe keeps its own undici Client (see "one connection per probe" below); the
 * check's deadline reaches a connect, a TLS handshake or a request in progress through
 * one abort listener per check.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Agent, Client, buildConnector, type Dispatcher } from 'undici';
import { READ_CAP, aborted, down, formatBytes, inert, up, type Cause, type CheckContext, type Verdict } from './kernel';
import { defineKind, type CheckTarget, type Receive } from './kind';
import { showReceive } from './receive';

export interface HttpSpec {
  kind: 'http';
  url: string;
  method: 'GET' | 'HEAD';
  /** Host header (virtualhost, else the real's address, IPv6 in brackets); null for http_proxy. */
  hostHeader: string | null;
  /** http_proxy: the real server is the proxy, `http://rip:port/`. */
  proxy: string | null;
  receive: Receive | null;
  timeoutMs: number;
}

/** The body is read up to this many bytes; the receive is matched against that much. */
const BODY_CAP = READ_CAP;
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

// --- one connection per probe --------------------------------------------------------

/**
 * Each probe (an HttpSpec object: one real, one check) has its own undici Client to its
 * own origin, so the connection it keeps is its own. A probe's checks never overlap, so
 * the probe always knows which check a connect belongs to: a connect or TLS handshake
 * still running at that check's deadline is destroyed then (undici alone would leave it
 * running), and never on behalf of another probe's deadline. Sharing one pool would queue
 * two probes of the same server (two virtuals checking one real) behind one connection,
 * and let one probe's deadline tear down a connection the other was waiting for.
 * A Client rather than an Agent: the check always talks to one origin, and the Agent's
 * origin lookup and handler wrapping cost a fifth of a kept-alive check. A redirect to
 * another origin (rare) goes through an Agent the probe creates when it first needs one.
 */
interface ProbeConn {
  /** The origin the probe's checks start at (the real, or the proxy for http_proxy). */
  origin: string;
  client: Client;
  /** Redirects to other origins, created on first use. */
  others: Agent | null;
  /** The check in progress (null between checks). */
  current: InFlight | null;
  /**
   * The probe's checks never overlap, so one InFlight record, one abort hook and one
   * first request serve all of them: a check allocates none of these again.
   */
  flight: InFlight;
  abort: (reason: Error) => void;
  first: Target | null;
}

/** What the check in progress has under way, so its abort hook can stop it. */
interface InFlight {
  /** A check is using this record now. */
  active: boolean;
  signal: AbortSignal;
  /** A TCP/TLS connect made for this check and not finished yet. */
  connecting: Socket | null;
  /** The request under way (set while one runs). */
  hop: HopRun | null;
  /** The check ended on a complete response, so its connection is fit to keep. */
  complete: boolean;
}

const conns = new Map<HttpSpec, ProbeConn>();
const connector = buildConnector({ rejectUnauthorized: false, timeout: 0 }) as unknown as (
  o: buildConnector.Options,
  cb: buildConnector.Callback,
) => Socket;

const DISPATCHER_OPTIONS = {
  // The check's signal bounds every phase; undici's own timers would cut long checks
  // (negotiatetimeout defaults to 30 s) short.
  headersTimeout: 0,
  bodyTimeout: 0,
  pipelining: 1,
  // The connection is kept between the probe's checks (checkinterval is usually 1-10 s;
  // the server's own Keep-Alive timeout hint, when it sends one, wins).
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 60_000,
  maxRequestsPerClient: REQUESTS_PER_CONNECTION,
} as const;

function connFor(spec: HttpSpec, origin: string): ProbeConn {
  const c = conns.get(spec);
  if (c) return c;
  const flight = newFlight();
  const conn: ProbeConn = {
    origin,
    client: undefined as unknown as Client,
    others: null,
    current: null,
    flight,
    // The check's deadline (or the daemon stopping) stops a connect or a request in progress.
    abort: stopper(flight),
    first: null,
  };
  conn.client = new Client(origin, { ...DISPATCHER_OPTIONS, connect: connectFor(conn) });
  conns.set(spec, conn);
  return conn;
}

function newFlight(): InFlight {
  return { active: false, signal: undefined as unknown as AbortSignal, connecting: null, hop: null, complete: false };
}

/** Stops what `check` has under way, while it is in use. */
function stopper(check: InFlight): (reason: Error) => void {
  return (reason) => {
    if (!check.active) return;
    check.connecting?.destroy(reason);
    check.hop?.stop(reason);
  };
}

/** The probe's connector: each connect is tied to the check in progress. */
function connectFor(conn: ProbeConn): buildConnector.connector {
  return (opts, callback) => {
    const check = conn.current;
    let orphan: NodeJS.Timeout | undefined;
    // buildConnector's connector returns the socket it creates (its type says void).
    const sock = connector(opts, (...args) => {
      if (check && check.connecting === sock) check.connecting = null;
      if (orphan) clearTimeout(orphan);
      callback(...args);
    });
    if (check === null) {
      // No check claims it (should not happen): still give it up eventually.
      orphan = setTimeout(() => sock.destroy(new Error('connect timed out')), ORPHAN_CONNECT_MS);
    } else if (check.signal.aborted) sock.destroy(new Error('check ended while connecting'));
    else check.connecting = sock;
  };
}

function dispatcherFor(conn: ProbeConn, origin: string): Dispatcher {
  if (origin === conn.origin) return conn.client;
  return (conn.others ??= new Agent({ ...DISPATCHER_OPTIONS, connections: 1, connect: connectFor(conn) }));
}

/** Free a probe's kept connection (the probe was removed or replaced by a reload). */
export function releaseHttp(spec: HttpSpec): void {
  const c = conns.get(spec);
  if (!c) return;
  conns.delete(spec);
  void destroyConn(c);
}

function destroyConn(c: ProbeConn): Promise<unknown> {
  return Promise.all([c.client.destroy().catch(() => undefined), c.others?.destroy().catch(() => undefined)]);
}

/** Close every kept connection (daemon stop, tests). */
export async function closeHttpAgent(): Promise<void> {
  const all = [...conns.values()];
  conns.clear();
  await Promise.all(all.map(destroyConn));
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
    readonly category: Cause,
    /** Failed on an established connection before any response: worth one fresh retry. */
    readonly retryable = false,
  ) {
    super(message);
  }
}

const TCP_CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
  'EADDRINUSE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EACCES',
  'EPERM',
  'EINVAL',
]);

function errCode(e: unknown): string | undefined {
  const err = e as { code?: string; cause?: { code?: string } };
  return err?.code && !err.code.startsWith('UND_ERR') ? err.code : (err?.cause?.code ?? err?.code);
}

/** The failure for an error, by how far the exchange had got. */
function describe(
  e: unknown,
  phase: 'connect' | 'request' | 'body',
  tls: boolean,
  statusLine: string,
  retryable = false,
): HopError {
  const code = errCode(e);
  const msg = inert((e as Error)?.message ?? String(e), 200);
  if (phase === 'connect') {
    if (tls && !(code && TCP_CONNECT_CODES.has(code)))
      return new HopError(`TLS handshake failed: ${code && code !== 'ECONNRESET' ? code : msg}`, 'tls');
    return new HopError(`connect ${code ?? msg}`, code === 'ECONNREFUSED' ? 'refused' : 'unreachable');
  }
  let what: string;
  let cause: Cause = 'protocol';
  if (code === 'ECONNRESET') [what, cause] = ['connection reset (ECONNRESET)', 'closed'];
  else if (code === 'UND_ERR_SOCKET') [what, cause] = ['connection closed by the server', 'closed'];
  else if (code?.startsWith('HPE_')) what = `invalid HTTP response (${code})`;
  else if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH')
    [what, cause] = ['body shorter than its Content-Length', 'closed'];
  else what = code ? `${msg} (${code})` : msg;
  const text = phase === 'request' ? `no response: ${what}` : `${statusLine}, then the body failed: ${what}`;
  return new HopError(text, cause, retryable);
}

/** Where one request goes: the dispatcher and what it is told. */
interface Target {
  dispatcher: Dispatcher;
  origin: string;
  path: string;
  tls: boolean;
  headers: Record<string, string>;
  /** undici's options for it, made once per target (undici does not change them). */
  opts?: Dispatcher.DispatchOptions;
}

/**
 * One request of a check, and undici's handler for it. Its steps are prototype methods:
 * a handler of closures made per request was a third of a check's garbage at 10,000
 * checks a second.
 */
class HopRun implements Dispatcher.DispatchHandler {
  private phase: 'connect' | 'request' | 'body' = 'connect';
  private controller: Dispatcher.DispatchController | null = null;
  private done = false;
  private chunks: Buffer[] | null = null;
  private hop: Hop | null = null;
  resolve!: (hop: Hop) => void;
  reject!: (err: Error) => void;

  constructor(
    private readonly check: InFlight,
    private readonly tls: boolean,
    private readonly keepBody: boolean,
  ) {}

  finish(err: Error | null): void {
    if (this.done) return;
    this.done = true;
    if (this.check.hop === this) this.check.hop = null;
    if (err) return this.reject(err);
    const hop = this.hop!;
    if (this.keepBody) {
      const chunks = this.chunks ?? [];
      hop.body =
        chunks.length === 1 && hop.bytes <= BODY_CAP
          ? chunks[0]!
          : Buffer.concat(chunks, Math.min(hop.bytes, BODY_CAP));
    }
    this.resolve(hop);
  }

  /** The check is over (its deadline, or the daemon stopping). */
  stop(err: Error): void {
    this.controller?.abort(err);
    this.finish(new HopError('aborted', 'timeout'));
  }

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.controller = c;
    this.phase = 'request';
    if (this.done) c.abort(new Error('aborted'));
  }

  onResponseStart(
    c: Dispatcher.DispatchController,
    status: number,
    hdrs: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    this.controller = c;
    if (status < 200) return; // 1xx: wait for the real answer
    this.phase = 'body';
    const loc = status >= 300 && status < 400 ? hdrs.location : undefined;
    this.hop = {
      status,
      statusLine: statusLineOf(status, statusMessage),
      location: Array.isArray(loc) ? loc[0] : loc,
      body: null,
      bytes: 0,
      capped: false,
    };
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    const hop = this.hop;
    if (this.done || !hop) return;
    if (hop.bytes + chunk.length > BODY_CAP) {
      if (this.keepBody) (this.chunks ??= []).push(chunk.subarray(0, BODY_CAP - hop.bytes));
      hop.bytes = BODY_CAP;
      hop.capped = true;
      this.finish(null);
      // Stop reading: the connection is destroyed, the rest is never fetched.
      c.abort(new Error('body cap reached'));
      return;
    }
    if (this.keepBody) (this.chunks ??= []).push(chunk);
    hop.bytes += chunk.length;
  }

  onResponseEnd(): void {
    this.finish(null);
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.done) return;
    const code = errCode(err);
    const retryable =
      this.phase === 'request' && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE');
    this.finish(describe(err, this.phase, this.tls, this.hop?.statusLine ?? '', retryable));
  }
}

/** `HTTP 200 OK`: one string per status for the usual messages, not one per check. */
const STATUS_LINES = new Map<number, string>();
function statusLineOf(status: number, message: string | undefined): string {
  const standard = STATUS_CODES[status];
  if (message && message !== standard) return `HTTP ${status} ${inert(message, 100)}`;
  let line = STATUS_LINES.get(status);
  if (line === undefined) STATUS_LINES.set(status, (line = `HTTP ${status} ${standard ?? 'Unknown code'}`));
  return line;
}

function oneRequest(check: InFlight, to: Target, method: 'GET' | 'HEAD', keepBody: boolean): Promise<Hop> {
  const run = new HopRun(check, to.tls, keepBody);
  const done = new Promise<Hop>((resolve, reject) => {
    run.resolve = resolve;
    run.reject = reject;
  });
  // Aborted between two hops: the check's hook has already run.
  if (check.signal.aborted) {
    run.finish(new HopError('aborted', 'timeout'));
    return done;
  }
  check.hop = run;
  const opts = (to.opts ??= {
    origin: to.origin,
    path: to.path,
    method,
    headers: to.headers,
    reset: FRESH, // Connection: close, as LWP sent, only when asked for
  });
  try {
    to.dispatcher.dispatch(opts, run);
  } catch (e) {
    run.finish(describe(e, 'connect', to.tls, ''));
  }
  return done;
}

// --- the check ------------------------------------------------------------------------

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

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

/** Where a hop goes, without the dispatcher (which depends on the probe's connection). */
type HopTarget = Omit<Target, 'dispatcher'>;

function hopTo(url: URL, proxy: URL | null, host: string | null, auth: string | null): HopTarget {
  // LWP's proxy was set for the http scheme only: https goes direct even for http_proxy.
  const viaProxy = proxy !== null && url.protocol === 'http:';
  const headers: Record<string, string> = { 'user-agent': USER_AGENT };
  if (host !== null) headers.host = host;
  else if (viaProxy) headers.host = url.host;
  if (auth) headers.authorization = auth;
  return {
    origin: viaProxy ? proxy.origin : url.origin,
    path: viaProxy ? url.href.replace(/#.*$/, '') : url.pathname + url.search,
    tls: url.protocol === 'https:',
    headers,
  };
}

/** A spec's URLs and first request, worked out once: specs live as long as their config. */
interface Prepared {
  url: URL;
  proxy: URL | null;
  /** user:password@ in the URL as basic authentication (LWP keeps it across redirects). */
  auth: string | null;
  first: HopTarget;
}

const prepared = new WeakMap<HttpSpec, Prepared | string>();

/** The prepared request, or why the check cannot run (a reason). */
function prepare(spec: HttpSpec): Prepared | string {
  let p = prepared.get(spec);
  if (p !== undefined) return p;
  try {
    const url = new URL(spec.url);
    const proxy = spec.proxy === null ? null : new URL(spec.proxy);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      p = `unsupported URL scheme ${url.protocol.slice(0, -1)}`;
    else {
      const auth = url.username || url.password ? basicAuth(url) : null;
      p = { url, proxy, auth, first: hopTo(url, proxy, spec.hostHeader, auth) };
    }
  } catch {
    p = `invalid URL ${spec.url.replace(/\/\/[^/@]*@/, '//***@')}`;
  }
  prepared.set(spec, p);
  return p;
}

/** The URL, Host header and proxy Perl's check_http used for a real (ld_setup's rules). */
function httpSpec(t: CheckTarget): HttpSpec {
  const proxied = t.service === 'http_proxy';
  const schema = proxied ? 'http' : t.service;
  const uri = t.request.replace(/^\//, '');
  const where = `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
  let url: string;
  // A per-real request that is a whole URL replaces it; http_proxy's own request is one.
  if (t.ownRequest && t.request.includes(`${schema}://`)) url = uri;
  else if (proxied && !t.ownRequest) url = uri;
  else url = `${schema}://${where}/${uri}`;
  return {
    kind: 'http',
    url,
    method: t.httpmethod,
    hostHeader: proxied ? null : (t.virtualhost ?? (t.host.includes(':') ? `[${t.host}]` : t.host)),
    proxy: proxied ? `http://${where}/` : null,
    receive: t.receive,
    timeoutMs: t.negotiateTimeoutMs,
  };
}

export const http = defineKind<HttpSpec>({
  services: { http: 80, https: 443, http_proxy: 3128 },
  usesReceive: true,
  spec: httpSpec,
  run: checkHttp,
  release: releaseHttp,
});

async function checkHttp(spec: HttpSpec, { signal, onAbort }: CheckContext): Promise<Verdict> {
  const prep = prepare(spec);
  if (typeof prep === 'string') return down('error', prep);
  if (signal.aborted) return aborted(signal);
  const conn = connFor(spec, prep.first.origin);
  // The daemon never checks a probe twice at once (the scheduler waits for the check in
  // flight), so the probe's own record serves; another caller overlapping it gets its own.
  const mine = !conn.flight.active;
  const check = mine ? conn.flight : newFlight();
  const abort = mine ? conn.abort : stopper(check);
  check.active = true;
  check.signal = signal;
  check.connecting = null;
  check.hop = null;
  check.complete = false;
  // One hook for the whole check: it stops a connect or a request in progress. The
  // runner's direct hook when there is one, else an abort listener.
  const listener = onAbort ? null : () => abort(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  if (onAbort) onAbort(abort);
  else signal.addEventListener('abort', listener!);
  conn.current = check;
  try {
    return await exchange(spec, conn, check, prep);
  } finally {
    if (conn.current === check) conn.current = null;
    check.active = false;
    check.hop = null;
    check.connecting = null;
    if (listener) signal.removeEventListener('abort', listener);
    // A check that did not end on a complete response (timed out, reset, refused, body
    // cap) leaves its probe no connection: undici would otherwise reconnect to replay the
    // request it was told to abort, and keep that connection to a failing server.
    if (!check.complete) releaseHttp(spec);
  }
}

const hopFailure = (e: unknown): Verdict =>
  e instanceof HopError ? down(e.category, e.message) : down('error', inert(String(e), 200));

async function exchange(spec: HttpSpec, conn: ProbeConn, check: InFlight, prep: Prepared): Promise<Verdict> {
  const signal = check.signal;
  const keepBody = spec.receive !== null && spec.method === 'GET';
  let url = prep.url;
  let to: Target = (conn.first ??= { dispatcher: conn.client, ...prep.first });
  let redirects = 0;
  let hop: Hop;
  for (;;) {
    try {
      hop = await oneRequest(check, to, spec.method, keepBody);
    } catch (e) {
      if (signal.aborted) return aborted(signal);
      // A kept-alive connection the server closed while idle fails before any response:
      // that says nothing about the server, so ask once more on a fresh connection.
      if (FRESH || !(e instanceof HopError) || !e.retryable) return hopFailure(e);
      try {
        hop = await oneRequest(check, to, spec.method, keepBody);
      } catch (e2) {
        return signal.aborted ? aborted(signal) : hopFailure(e2);
      }
    }
    if (!REDIRECTS.has(hop.status) || !hop.location) break;
    let next: URL;
    try {
      next = new URL(hop.location, url);
    } catch {
      break;
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') break;
    if (redirects === MAX_REDIRECTS) return down('status', `${hop.statusLine} (more than ${MAX_REDIRECTS} redirects)`);
    redirects++;
    url = next;
    // LWP builds the redirected request without the Host override; user:password@ in the
    // new URL replaces the authentication, otherwise it is kept.
    const auth = next.username || next.password ? basicAuth(next) : prep.auth;
    const target = hopTo(next, prep.proxy, null, auth);
    to = { dispatcher: dispatcherFor(conn, target.origin), ...target };
  }
  check.complete = !hop.capped;
  const via = redirects ? ` (after ${redirects} redirect${redirects > 1 ? 's' : ''})` : '';
  if (hop.status < 200 || hop.status > 299) return down('status', hop.statusLine + via);
  if (spec.receive === null) return up(hop.statusLine + via);
  if (spec.method === 'HEAD') {
    const pattern = showReceive(spec.receive);
    return down(
      'mismatch',
      `${hop.statusLine}${via}, but receive "${pattern}" cannot match: a HEAD response has no body`,
    );
  }
  if (spec.receive.test(hop.body!.toString('latin1'))) return up(hop.statusLine + via);
  const where = hop.capped ? `the first ${formatBytes(BODY_CAP)} of the` : formatBytes(hop.bytes);
  return down('mismatch', `receive "${showReceive(spec.receive)}" not found in ${where} body`);
}
