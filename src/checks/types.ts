/**
 * What a health check is: a probe spec (what to send, where, with which deadline) and a
 * function that runs it. Every check module exports one function of type Check<Spec>.
 *
 * Rules every check obeys (src/checks/run.ts enforces the last two as a safety net):
 *   - it never throws: every failure is `{up: false, reason}`;
 *   - the reason says what was expected and what happened, and never contains a secret;
 *   - it stops at `signal` (the deadline, or daemon stop) and tears down its socket or
 *     child process when it does;
 *   - it holds no state between runs (the scheduler owns state).
 */

export interface CheckResult {
  up: boolean;
  /** Short human text: `HTTP 200 OK`, `connect ECONNREFUSED`, `timed out after 2 s`, … */
  reason: string;
  /** Wall time the check took, in milliseconds. */
  ms: number;
}

export interface CheckContext {
  /** Aborted at the check's deadline or when the daemon stops. */
  signal: AbortSignal;
  /**
   * The runner's direct line to a check that is over (runProbe gives it; a caller with only
   * a signal does not): `fn` is called once the signal is aborted. Equivalent to an abort
   * listener, without adding one to the signal, which at 10,000 checks a second is a
   * measurable share of the garbage. The hot checks (HTTP) use it when present; a check
   * may register one hook, for its current run only.
   */
  onAbort?: (fn: (reason: Error) => void) => void;
}

export type Check<S> = (spec: S, ctx: CheckContext) => Promise<Omit<CheckResult, 'ms'>>;

/** A byte-string regex test (see parser/perl-regex.ts): null means "any answer counts". */
export type Receive = RegExp | null;

interface Base {
  /** Deadline for the whole check, in milliseconds. */
  timeoutMs: number;
}

export interface ConnectSpec extends Base {
  kind: 'connect';
  host: string;
  port: number;
  /**
   * UDP "connect" (only reached through checktype=N on a UDP virtual, as in Perl's
   * check_connect): a datagram socket is connected, which fails only without a route.
   */
  udp?: boolean;
}

export interface HttpSpec extends Base {
  kind: 'http';
  url: string;
  method: 'GET' | 'HEAD';
  /** Host header (virtualhost, else the real's address, IPv6 in brackets); null for http_proxy. */
  hostHeader: string | null;
  /** http_proxy: the real server is the proxy, `http://rip:port/`. */
  proxy: string | null;
  receive: Receive;
}

export interface SqlSpec extends Base {
  kind: 'mysql' | 'pgsql' | 'oracle';
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  query: string;
}

export interface ExternalSpec extends Base {
  kind: 'external';
  /** The program, then its arguments; run with execFile, never a shell. */
  command: string;
  args: string[];
  /** external-perl: run the file with perl rather than executing it. */
  interpreter: string | null;
}

export interface PingSpec extends Base {
  kind: 'ping';
  host: string;
  ipv6: boolean;
  /** Attempts; each may take timeoutMs / count. */
  count: number;
}

export interface NoneSpec extends Base {
  kind: 'none';
}

/** Mail, news, directory, DNS, RADIUS, SIP and simple TCP negotiate checks (spec §5.2). */
export interface SmtpSpec extends Base {
  kind: 'smtp';
  host: string;
  port: number;
}

export interface MailboxSpec extends Base {
  kind: 'pop' | 'imap';
  tls: boolean;
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface FtpSpec extends Base {
  kind: 'ftp';
  host: string;
  port: number;
  user: string;
  password: string;
  /** File to fetch: the request as written, with its leading '/' (Perl: get($$r{request})). */
  path: string;
  receive: Receive;
}

export interface LdapSpec extends Base {
  kind: 'ldap';
  tls: boolean;
  host: string;
  port: number;
  /** Bind DN and password; anonymous bind unless both are set. */
  user: string;
  password: string;
  /** Search base (request without its leading '/'). */
  base: string;
  receive: Receive;
}

export interface NntpSpec extends Base {
  kind: 'nntp';
  host: string;
  port: number;
}

export interface DnsSpec extends Base {
  kind: 'dns';
  host: string;
  port: number;
  tcp: boolean;
  /** Name to look up (an IP address means a PTR query). */
  query: string;
  /** Must match an A address or PTR name; null (empty receive) is always down, as in Perl. */
  receive: Receive;
}

export interface RadiusSpec extends Base {
  kind: 'radius';
  host: string;
  port: number;
  secret: string;
  user: string;
  password: string;
}

export interface SipSpec extends Base {
  kind: 'sip';
  host: string;
  port: number;
  udp: boolean;
  /** The `login` value, used as the OPTIONS request URI user part. */
  user: string;
}

export interface SimpleTcpSpec extends Base {
  kind: 'simpletcp';
  host: string;
  port: number;
  udp: boolean;
  /** Bytes to send (request without leading '/', literal \n sequences as newlines). */
  send: string;
  receive: Receive;
}

export type ProbeSpec =
  | ConnectSpec
  | HttpSpec
  | SqlSpec
  | ExternalSpec
  | PingSpec
  | NoneSpec
  | SmtpSpec
  | MailboxSpec
  | FtpSpec
  | LdapSpec
  | NntpSpec
  | DnsSpec
  | RadiusSpec
  | SipSpec
  | SimpleTcpSpec;

export type ProbeKind = ProbeSpec['kind'];
