/**
 * (virtual, real) → the probe specs that check it, with Perl's semantics:
 *   - ld_setup's URL rules (per-real "request", "receive" overrides, absolute per-real URLs,
 *     http_proxy's absolute virtual request);
 *   - ld_checkport (checkport, else the real's port, else the service's default port);
 *   - _check_real's dispatch (checktype × service; `connect` on a UDP virtual is a ping);
 *   - the timeouts: checktimeout for connect, ping and external; negotiatetimeout for
 *     negotiate.
 * Pure: no I/O. The scheduler decides when each spec runs (combined, on, off, maintenance).
 */
import { perlRegex, toByteString } from '../perl/regex';
import { bracketHost, checkPort, hostPort, type RealServer, type VirtualService } from '../parser/model';
import type { ConnectSpec, ProbeSpec, Receive } from './types';

/** How a real is watched, per its virtual's checktype. */
export type Watch =
  | { mode: 'probe'; spec: ProbeSpec }
  /** checktype=N: N connect checks, then a negotiate check (spec §5 item 9). */
  | { mode: 'combined'; negotiate: ProbeSpec; connect: ProbeSpec; every: number }
  /** checktype=on: up without checking; off: no check, state stays as adopted. */
  | { mode: 'on' }
  | { mode: 'off' };

export function watchFor(v: VirtualService, r: RealServer): Watch {
  switch (v.checktype) {
    case 'negotiate':
      return { mode: 'probe', spec: negotiateSpec(v, r) };
    case 'combined':
      return {
        mode: 'combined',
        negotiate: negotiateSpec(v, r),
        connect: { ...tcpConnectSpec(v, r), udp: v.protocol === 'udp' },
        every: v.negotiateEvery ?? 0,
      };
    case 'connect':
      // Perl: a connect check on a UDP virtual is an ICMP ping.
      return { mode: 'probe', spec: v.protocol === 'udp' ? pingSpec(v, r) : tcpConnectSpec(v, r) };
    case 'ping':
      return { mode: 'probe', spec: pingSpec(v, r) };
    case 'external':
    case 'external-perl':
      return { mode: 'probe', spec: externalSpec(v, r) };
    case 'on':
      return { mode: 'on' };
    case 'off':
      return { mode: 'off' };
  }
}

/** Perl bracketed form of an address, as $$r{server} holds it. */
const bracketed = bracketHost;
const seconds = (s: number) => s * 1000;

/**
 * Compiled receive patterns by their text: a config with 10,000 reals usually has a
 * handful of distinct patterns, and a RegExp per probe costs a compiled regexp each.
 * Sharing is safe: checks match synchronously and reset lastIndex first. Bounded, so
 * reloads that keep changing patterns cannot grow it without end.
 */
const receives = new Map<string, RegExp>();
const RECEIVES_MAX = 4096;

function regexJson(this: RegExp): string {
  return `/${this.source}/${this.flags}`;
}

/** Compile a receive string (Perl regex) for byte-string matching; empty = any answer. */
export function compileReceive(receive: string | null): Receive {
  if (!receive) return null;
  let re = receives.get(receive);
  if (!re) {
    re = perlRegex(toByteString(receive));
    // A probe's identity is its spec as JSON (schedule/probes.ts): say what the pattern is
    // (a RegExp is `{}` to JSON), without a replacer function that slows every key.
    Object.defineProperty(re, 'toJSON', { value: regexJson, enumerable: false });
    if (receives.size >= RECEIVES_MAX) receives.clear();
    receives.set(receive, re);
  }
  return re;
}

/** Request without its leading '/', as Perl's `s/^\///` or substr($request, 1). */
const stripSlash = (s: string) => s.replace(/^\//, '');

function effective(v: VirtualService, r: RealServer): { request: string; receive: string } {
  // The per-real override is a (request, receive) pair; otherwise the virtual's values.
  return r.request !== null && r.receive !== null
    ? { request: r.request, receive: r.receive }
    : { request: v.request, receive: v.receive };
}

function tcpConnectSpec(v: VirtualService, r: RealServer): ConnectSpec {
  return { kind: 'connect', host: r.address, port: checkPort(v, r) ?? 0, timeoutMs: seconds(v.checktimeout) };
}

function pingSpec(v: VirtualService, r: RealServer): ProbeSpec {
  const count = Math.max(1, v.checkcount);
  return { kind: 'ping', host: r.address, ipv6: v.ipv6, count, timeoutMs: seconds(v.checktimeout) * count };
}

function externalSpec(v: VirtualService, r: RealServer): ProbeSpec {
  // Perl passes $$v{server} (or the fwmark), $$v{port}, $$r{server}, $$r{port}; IPv6
  // addresses in brackets, a fwmark's port as 0.
  const vip = v.protocol === 'fwm' ? String(v.fwmark) : bracketed(v.address!);
  return {
    kind: 'external',
    command: v.checkcommand,
    args: [vip, String(v.port), bracketed(r.address), String(r.port)],
    interpreter: v.checktype === 'external-perl' ? 'perl' : null,
    timeoutMs: seconds(v.checktimeout),
  };
}

export function negotiateSpec(v: VirtualService, r: RealServer): ProbeSpec {
  const port = checkPort(v, r) ?? 0;
  const timeoutMs = seconds(v.negotiatetimeout);
  const { request, receive } = effective(v, r);
  const host = r.address;
  switch (v.service) {
    case 'http':
    case 'https':
    case 'http_proxy': {
      const schema = v.service === 'http_proxy' ? 'http' : v.service;
      const uri = stripSlash(request);
      let url: string;
      if (r.request !== null && r.receive !== null && request.includes(`${schema}://`)) url = uri;
      else if (v.service === 'http_proxy' && !(r.request !== null && r.receive !== null)) url = uri;
      else url = `${schema}://${hostPort(host, port)}/${uri}`;
      return {
        kind: 'http',
        url,
        method: v.httpmethod,
        hostHeader: v.service === 'http_proxy' ? null : (v.virtualhost ?? bracketed(host)),
        proxy: v.service === 'http_proxy' ? `http://${hostPort(host, port)}/` : null,
        receive: compileReceive(receive),
        timeoutMs,
      };
    }
    case 'mysql':
    case 'pgsql':
    case 'oracle':
      return {
        kind: v.service,
        host,
        port,
        user: v.login,
        password: v.passwd,
        database: v.database,
        query: stripSlash(request),
        timeoutMs,
      };
    case 'smtp':
    case 'submission':
      return { kind: 'smtp', host, port, timeoutMs };
    case 'pop':
    case 'pops':
      return { kind: 'pop', tls: v.service === 'pops', host, port, user: v.login, password: v.passwd, timeoutMs };
    case 'imap':
    case 'imaps':
      return { kind: 'imap', tls: v.service === 'imaps', host, port, user: v.login, password: v.passwd, timeoutMs };
    case 'ftp':
      return {
        kind: 'ftp',
        host,
        port,
        user: v.login,
        password: v.passwd,
        path: request,
        receive: compileReceive(receive),
        timeoutMs,
      };
    case 'ldap':
    case 'ldaps':
      return {
        kind: 'ldap',
        tls: v.service === 'ldaps',
        host,
        port,
        user: v.login,
        password: v.passwd,
        base: request.slice(1),
        receive: compileReceive(receive),
        timeoutMs,
      };
    case 'nntp':
      return { kind: 'nntp', host, port, timeoutMs };
    case 'dns':
      return {
        kind: 'dns',
        host,
        port,
        tcp: v.protocol === 'tcp',
        query: stripSlash(request),
        receive: compileReceive(receive),
        timeoutMs,
      };
    case 'radius':
      return { kind: 'radius', host, port, secret: v.secret, user: v.login, password: v.passwd, timeoutMs };
    case 'sip':
      return { kind: 'sip', host, port, udp: v.protocol === 'udp', user: v.login, timeoutMs };
    case 'simpletcp':
      return {
        kind: 'simpletcp',
        host,
        port,
        udp: v.protocol === 'udp',
        send: request.slice(1).replace(/\\n/g, '\n'),
        receive: compileReceive(receive),
        timeoutMs,
      };
    case 'none':
      return { kind: 'none', timeoutMs };
  }
}
