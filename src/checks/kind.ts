/**
 * What a check kind is: one module per protocol (checks/<kind>.ts) exporting a CheckKind,
 * and one line in the registry (registry.ts). The kind declares which `service=` names it
 * answers (with the port a check uses when the real gives none), what it needs from the
 * configuration, how its probe spec is built from a CheckTarget, and its dialogue.
 *
 * A CheckTarget is what the configuration says about checking one real of one virtual,
 * already resolved (schedule/target.ts builds it), so check kinds know nothing of the
 * config file and the parser can ask the registry which services exist.
 */
import type { CheckContext, Verdict } from './kernel';

/** A receive pattern, compiled for byte-string matching; null means "any answer counts". */
export interface Receive {
  /** Whether `text` (a byte string, latin1) matches. Linear in the text's length. */
  test(text: string): boolean;
  /** An incremental search: feed what arrives, chunk by chunk. */
  matcher(): { feed(bytes: Uint8Array): boolean; end(): boolean; readonly exhausted: boolean };
  /** The pattern as the operator wrote it, for reasons. */
  readonly source: string;
}

export interface CheckTarget {
  /** The real's address (IPv6 without brackets). */
  host: string;
  /** The port checks use: checkport, else the real's port, else the service's default. */
  port: number;
  /** The real's port as configured (0 when the line gives none). */
  realPort: number;
  /** The virtual's protocol and address family. */
  protocol: 'tcp' | 'udp' | 'fwm';
  ipv6: boolean;
  /** The virtual as the external check names it: `<vip or fwmark>` and its port. */
  vip: string;
  vport: number;
  service: string;
  /** The request, with its leading '/' (the real's own when it gives a request/receive pair). */
  request: string;
  /** The real gave its own `"request", "receive"` pair. */
  ownRequest: boolean;
  receive: Receive | null;
  httpmethod: 'GET' | 'HEAD';
  virtualhost: string | null;
  login: string;
  passwd: string;
  database: string;
  secret: string;
  checkcommand: string;
  /** external-perl: the command is a Perl file run with perl. */
  perl: boolean;
  /** checktimeout and negotiatetimeout, in milliseconds. */
  connectTimeoutMs: number;
  negotiateTimeoutMs: number;
  checkcount: number;
}

/** Every spec carries its kind's registry name and its deadline. */
export interface SpecBase {
  kind: string;
  timeoutMs: number;
}

export interface CheckKind<S extends SpecBase> {
  /** `service=` names this kind checks, each with its default port (Perl ld_service_to_port), or null. */
  readonly services?: Readonly<Record<string, number | null>>;
  /** The kind matches `receive` against what the server sends (it must then compile). */
  readonly usesReceive?: boolean;
  /** What the configuration must give for the check to mean anything, checked when it is read. */
  readonly requires?: { readonly login?: true; readonly request?: true };
  /** A service that is named but cannot be checked here: refused when the configuration is read. */
  readonly unsupported?: string;
  /** The probe spec: what is sent, where, with which deadline. Pure. */
  spec(t: CheckTarget): S;
  /** The dialogue. Never throws; stops at ctx.signal and releases its socket or child then. */
  run(spec: S, ctx: CheckContext): Promise<Verdict>;
  /**
   * Load the libraries the dialogue of `service` needs. Called when a configuration that
   * uses the kind is installed, so that loading (synchronous, tens of milliseconds) never
   * happens in the middle of checks; a dialogue still loads on first use without it.
   */
  preload?(service: string): Promise<unknown>;
  /** Free what the kind keeps for a spec between checks (a probe was removed). */
  release?(spec: S): void;
}

/** Where a negotiate check goes and its deadline: the fields most specs start with. */
export function negotiateBase(t: CheckTarget): { host: string; port: number; timeoutMs: number } {
  return { host: t.host, port: t.port, timeoutMs: t.negotiateTimeoutMs };
}

/** A kind, typed by its spec (the modules export `const kind = defineKind<Spec>({...})`). */
export function defineKind<S extends SpecBase>(k: CheckKind<S>): CheckKind<S> {
  return k;
}
