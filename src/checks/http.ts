/**
 * service=http, https, http_proxy negotiate checks (Perl check_http, LWP::UserAgent).
 *
 * What the Perl daemon did, and what this does the same way:
 *   - `<httpmethod> <url>` with `Host: <virtualhost or real address>` (none for http_proxy,
 *     where the real server is the proxy and the URL is absolute), on a connection of its
 *     own (LWP's `Connection: close`): every check proves the real accepts a new connection;
 *   - redirects followed as LWP does: 301/302/303/307/308 with a Location, at most 7, the
 *     method kept (only GET and HEAD are ever used), the Host header dropped; after the
 *     7th the last 3xx is the answer (so the real is down);
 *   - up when the final status is 2xx and the receive pattern (if any) matches the body,
 *     matched as bytes, so HEAD with a receive is always down;
 *   - the whole exchange, redirects included, is bounded by the check's deadline;
 *   - LWP's User-Agent (`libwww-perl/6.68`), so web-server rules that recognise health
 *     checks by it keep working after a switch.
 * Deliberate differences:
 *   - W-10 fixed: the certificate is not verified (self-signed and private-CA reals work);
 *   - IPv6 reals work (Perl died without Net::INET6Glue);
 *   - the body is matched as it arrives and reading stops at the match, or at 1 MiB: a
 *     body is never kept, and no server can make a check read more.
 *
 * The exchange itself is http1.ts: a request prepared once per probe, a bounded parser.
 */
import { READ_CAP, aborted, down, formatBytes, inert, up, type CheckContext, type Verdict } from './kernel';
import { Http1Failure, http1, type Http1Request } from './http1';
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
/** The User-Agent the Perl daemon sent (LWP's default). */
const USER_AGENT = 'libwww-perl/6.68';
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

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
});

/** A spec's URLs and first request, worked out once: specs live as long as their config. */
interface Prepared {
  url: URL;
  proxy: URL | null;
  /** user:password@ in the URL as basic authentication (LWP keeps it across redirects). */
  auth: string | null;
  first: Http1Request;
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
      p = { url, proxy, auth, first: request(spec.method, url, proxy, spec.hostHeader, auth) };
    }
  } catch {
    p = `invalid URL ${inert(spec.url.replace(/\/\/[^/@]*@/, '//***@'), 200)}`;
  }
  prepared.set(spec, p);
  return p;
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

/** The request for `url`: where it goes (the proxy for http_proxy's http URLs) and its bytes. */
function request(
  method: 'GET' | 'HEAD',
  url: URL,
  proxy: URL | null,
  host: string | null,
  auth: string | null,
): Http1Request {
  // LWP's proxy was set for the http scheme only: https goes direct even for http_proxy.
  const viaProxy = proxy !== null && url.protocol === 'http:';
  const to = viaProxy ? proxy : url;
  const tls = to.protocol === 'https:';
  const path = viaProxy ? url.href.replace(/#.*$/, '') : url.pathname + url.search;
  const lines = [
    `${method} ${path} HTTP/1.1`,
    `Host: ${host ?? url.host}`,
    `User-Agent: ${USER_AGENT}`,
    'Connection: close',
    ...(auth ? [`Authorization: ${auth}`] : []),
  ];
  const hostname = to.hostname.replace(/^\[|\]$/g, '');
  return {
    host: hostname,
    port: Number(to.port) || (tls ? 443 : 80),
    tls: tls ? { rejectUnauthorized: false, servername: /^[\d.]+$|:/.test(hostname) ? undefined : hostname } : null,
    bytes: Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'),
    head: method === 'HEAD',
  };
}

async function checkHttp(spec: HttpSpec, ctx: CheckContext): Promise<Verdict> {
  const signal = ctx.signal;
  const prep = prepare(spec);
  if (typeof prep === 'string') return down('error', prep);
  let url = prep.url;
  let req = prep.first;
  for (let redirects = 0; ; redirects++) {
    const via = redirects ? ` (after ${redirects} redirect${redirects > 1 ? 's' : ''})` : '';
    // The body is looked at only when the answer is a 2xx with a receive to find.
    // A 2xx answer's body is read to its end (LWP did: a body that stalls is a real that
    // does not answer), fed to the receive pattern as it comes, and no further than the
    // match or the cap. Another answer's body does not matter.
    const matcher = spec.receive && spec.method === 'GET' ? spec.receive.matcher() : null;
    let capped = false;
    let res;
    try {
      res = await http1(req, ctx, (head) => {
        if (head.status < 200 || head.status > 299) return null;
        return (chunk) => {
          const room = BODY_CAP - (head.bytes - chunk.length);
          if (chunk.length <= room) return !matcher?.feed(chunk) && !matcher?.exhausted;
          capped = true;
          matcher?.feed(chunk.subarray(0, room));
          return false;
        };
      });
    } catch (e) {
      if (signal.aborted) return aborted(signal);
      return e instanceof Http1Failure ? down(e.category, e.message) : down('error', inert(String(e), 200));
    }
    if (REDIRECTS.has(res.status) && res.location) {
      let next: URL | null;
      try {
        next = new URL(res.location, url);
      } catch {
        next = null;
      }
      if (next && (next.protocol === 'http:' || next.protocol === 'https:')) {
        if (redirects === MAX_REDIRECTS)
          return down('status', `${res.statusLine} (more than ${MAX_REDIRECTS} redirects)`);
        url = next;
        // LWP builds the redirected request without the Host override; user:password@ in
        // the new URL replaces the authentication, otherwise it is kept.
        const auth = next.username || next.password ? basicAuth(next) : prep.auth;
        req = request(spec.method, next, prep.proxy, null, auth);
        continue;
      }
    }
    if (res.status < 200 || res.status > 299) return down('status', res.statusLine + via);
    if (spec.receive === null) return up(res.statusLine + via);
    if (spec.method === 'HEAD') {
      const pattern = showReceive(spec.receive);
      return down(
        'mismatch',
        `${res.statusLine}${via}, but receive "${pattern}" cannot match: a HEAD response has no body`,
      );
    }
    if (matcher!.end()) return up(res.statusLine + via);
    if (matcher!.exhausted)
      return down(
        'mismatch',
        `receive "${showReceive(spec.receive)}" gave up after ${formatBytes(res.bytes)}: ` +
          'the pattern needs too much work on this body (simplify it)',
      );
    const where = capped ? `the first ${formatBytes(BODY_CAP)} of the` : formatBytes(res.bytes);
    return down('mismatch', `receive "${showReceive(spec.receive)}" not found in ${where} body`);
  }
}
