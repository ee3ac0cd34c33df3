/**
 * The resolved configuration: what an ldirectord.cf means once every default,
 * inheritance rule and name lookup has been applied (Perl: read_config + ld_setup).
 * Every value here is final and read-only; nothing downstream re-derives defaults.
 *
 * The values that come straight from a directive (scheduler, quiescent, emailalert, …)
 * are typed by the directive table (directives.ts: GlobalSettings, VirtualSettings); the
 * rest is worked out from several lines and is declared here.
 */
import type { GlobalSettings, VirtualSettings } from './directives';

export type Forward = 'gate' | 'masq' | 'ipip';
export type Protocol = 'tcp' | 'udp' | 'fwm';
export type CheckType = 'connect' | 'negotiate' | 'ping' | 'external' | 'external-perl' | 'on' | 'off' | 'combined';

/** Daemon states, as the bitmask emailalertstatus filters on. */
export const DAEMON_STATUS = { starting: 0x1, running: 0x2, stopping: 0x4, reloading: 0x8 } as const;
export type DaemonStatus = keyof typeof DAEMON_STATUS;
export const DAEMON_STATUS_ALL = 0xf;

/** What a virtual service listens on: an address and port, or a firewall mark. */
export type Endpoint =
  | { readonly kind: 'address'; readonly protocol: 'tcp' | 'udp'; readonly address: string; readonly port: number }
  | { readonly kind: 'fwmark'; readonly mark: number };

export interface RealServer {
  /** Line of the `real=` line (every address of a range shares it). */
  readonly line: number;
  /** Numeric address; IPv6 without brackets. */
  readonly address: string;
  /** 0 when the line gives none (fwmark services; the check then uses the service port). */
  readonly port: number;
  readonly forward: Forward;
  readonly weight: number;
  /** Per-real `"request", "receive"` override (request with its leading '/'), else null. */
  readonly request: string | null;
  readonly receive: string | null;
  /** `l:N`, the lower connection threshold (ipvsadm -y). */
  readonly lower: number;
  /** `u:N`, the upper connection threshold (ipvsadm -x). */
  readonly upper: number;
}

export interface FallbackServer {
  readonly line: number;
  readonly address: string;
  readonly port: number;
  readonly forward: Forward;
}

export interface VirtualService extends VirtualSettings {
  readonly line: number;
  /** Perl's virtual id: `tcp:1.2.3.4:80`, `tcp:[2001:db8::1]:80`, `fwm:5`, `fwm6:5`. */
  readonly id: string;
  readonly endpoint: Endpoint;
  readonly ipv6: boolean;
  readonly checktype: CheckType;
  /** For checktype=N (combined): N connect checks between negotiate checks. */
  readonly negotiateEvery: number | null;
  /** The service= given, else the one the port implies (Perl ld_port_to_service). */
  readonly service: string;
  /** The two timeouts, resolved as mutual defaults (spec §3.4). */
  readonly checktimeout: number;
  readonly negotiatetimeout: number;
  /** Effective check interval: the virtual's own, else the global one. */
  readonly checkinterval: number;
  /** Whether the virtual set checkinterval itself. */
  readonly checkintervalOwn: boolean;
  /** Effective fallback: the virtual's own, else the global one for its family/protocol. */
  readonly fallback: FallbackServer | null;
  readonly reals: readonly RealServer[];
}

/** A global fallback as written; port null when not given (each virtual then uses its own). */
export interface GlobalFallback {
  readonly address: string;
  readonly port: number | null;
  readonly forward: Forward;
  readonly line: number;
}

export interface GlobalConfig extends GlobalSettings {
  /** Resolved with the mutual-default rule (5 / 30 when neither is given). */
  readonly checktimeout: number;
  readonly negotiatetimeout: number;
  readonly checkinterval: number;
  readonly fallback: GlobalFallback | null;
  readonly fallback6: GlobalFallback | null;
}

export interface ConfigWarning {
  readonly line: number;
  readonly message: string;
}

export interface Config {
  /** The config path as resolved (used in messages, as Perl's $CONFIG). */
  readonly file: string;
  readonly global: GlobalConfig;
  readonly virtuals: readonly VirtualService[];
  readonly warnings: readonly ConfigWarning[];
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    // The original's words, with the pid of the process that read the file.
    super(
      line > 0
        ? `Error [${process.pid}] reading file ${file} at line ${line}: ${detail}`
        : `Error [${process.pid}] reading file ${file}: ${detail}`,
    );
    this.name = 'ConfigError';
  }
}

export function formatWarning(file: string, w: ConfigWarning): string {
  return w.line > 0
    ? `Warning [${process.pid}] reading file ${file} at line ${w.line}: ${w.message}`
    : `Warning [${process.pid}]: ${w.message}`;
}

/** `1.2.3.4` or `[2001:db8::1]`: an address ready to have `:port` or a path appended. */
export function bracketHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** `1.2.3.4:80` or `[2001:db8::1]:80`, the form ipvsadm and the logs use. */
export function hostPort(address: string, port: number | string): string {
  return `${bracketHost(address)}:${port}`;
}

/** The virtual's protocol as Perl names it: tcp, udp, or fwm. */
export function protocolOf(v: Pick<VirtualService, 'endpoint'>): Protocol {
  return v.endpoint.kind === 'fwmark' ? 'fwm' : v.endpoint.protocol;
}

/** The virtual's port; 0 for a fwmark service (Perl's `$$v{port}`). */
export function portOf(v: Pick<VirtualService, 'endpoint'>): number {
  return v.endpoint.kind === 'fwmark' ? 0 : v.endpoint.port;
}

/** `tcp:1.2.3.4:80`, `tcp:[2001:db8::1]:80`, `fwm:5`, `fwm6:5` (Perl get_virtual_id_str). */
export function virtualId(endpoint: Endpoint, ipv6: boolean): string {
  if (endpoint.kind === 'fwmark') return `fwm${ipv6 ? '6' : ''}:${endpoint.mark}`;
  return `${endpoint.protocol}:${hostPort(endpoint.address, endpoint.port)}`;
}

/** Perl get_virtual: `ip:port`, or the fwmark number. Used in log lines. */
export function virtualLabel(v: Pick<VirtualService, 'endpoint'>): string {
  const e = v.endpoint;
  return e.kind === 'fwmark' ? String(e.mark) : hostPort(e.address, e.port);
}
