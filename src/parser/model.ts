/**
 * The resolved configuration: what an ldirectord.cf means once every default,
 * inheritance rule and name lookup has been applied (Perl: read_config + ld_setup).
 * Every value here is final; nothing downstream re-derives defaults.
 */

export type Forward = 'gate' | 'masq' | 'ipip';
export type Protocol = 'tcp' | 'udp' | 'fwm';
export type CheckType = 'connect' | 'negotiate' | 'ping' | 'external' | 'external-perl' | 'on' | 'off' | 'combined';

export const SERVICES = [
  'dns',
  'ftp',
  'http',
  'https',
  'http_proxy',
  'imap',
  'imaps',
  'ldap',
  'ldaps',
  'mysql',
  'nntp',
  'none',
  'oracle',
  'pop',
  'pops',
  'radius',
  'pgsql',
  'simpletcp',
  'sip',
  'smtp',
  'submission',
] as const;
export type Service = (typeof SERVICES)[number];

/** Daemon states, as the bitmask emailalertstatus filters on. */
export const DAEMON_STATUS = { starting: 0x1, running: 0x2, stopping: 0x4, reloading: 0x8 } as const;
export type DaemonStatus = keyof typeof DAEMON_STATUS;
export const DAEMON_STATUS_ALL = 0xf;

export interface RealServer {
  /** Line of the `real=` line (every address of a range shares it). */
  line: number;
  /** Numeric address; IPv6 without brackets. */
  address: string;
  /** 0 when the line gives none (fwmark services; the check then uses the service port). */
  port: number;
  forward: Forward;
  weight: number;
  /** Per-real `"request", "receive"` override (request with its leading '/'), else null. */
  request: string | null;
  receive: string | null;
  /** `l:N`, the lower connection threshold (ipvsadm -y). */
  lower: number;
  /** `u:N`, the upper connection threshold (ipvsadm -x). */
  upper: number;
}

export interface FallbackServer {
  line: number;
  address: string;
  port: number;
  forward: Forward;
}

export interface VirtualService {
  line: number;
  /** Perl's virtual id: `tcp:1.2.3.4:80`, `tcp:[2001:db8::1]:80`, `fwm:5`, `fwm6:5`. */
  id: string;
  protocol: Protocol;
  ipv6: boolean;
  /** Numeric address (IPv6 without brackets); null for a fwmark service. */
  address: string | null;
  port: number;
  fwmark: number | null;
  scheduler: string;
  persistent: number | null;
  netmask: string | null;
  ops: boolean;
  schedflags: string | null;

  checktype: CheckType;
  /** For checktype=N (combined): N connect checks between negotiate checks. */
  negotiateEvery: number | null;
  service: Service;
  checkport: number | null;
  /** Always starts with '/'. */
  request: string;
  receive: string;
  httpmethod: 'GET' | 'HEAD';
  virtualhost: string | null;
  login: string;
  passwd: string;
  database: string;
  secret: string;
  checkcommand: string;

  checktimeout: number;
  negotiatetimeout: number;
  /** Effective check interval: the virtual's own, else the global one. */
  checkinterval: number;
  /** Whether the virtual set checkinterval itself. */
  checkintervalOwn: boolean;
  checkcount: number;
  failurecount: number;
  quiescent: boolean;
  cleanstop: boolean;
  /** Effective fallback: the virtual's own, else the global one for its family/protocol. */
  fallback: FallbackServer | null;
  fallbackcommand: string | null;
  emailalert: string | null;
  emailalertfreq: number;
  /** Bitmask of DAEMON_STATUS values. */
  emailalertstatus: number;
  smtp: string | null;
  monitorfile: string | null;
  servicename: string | null;
  comment: string | null;

  reals: RealServer[];
}

export interface GlobalConfig {
  checkinterval: number;
  /** Resolved with the mutual-default rule (5 / 30 when neither is given). */
  checktimeout: number;
  negotiatetimeout: number;
  checkcount: number;
  failurecount: number;
  autoreload: boolean;
  quiescent: boolean;
  readdquiescent: boolean;
  cleanstop: boolean;
  fork: boolean;
  supervised: boolean;
  logfile: string;
  maintenancedir: string | null;
  callback: string | null;
  fallbackcommand: string | null;
  emailalert: string | null;
  emailalertfrom: string | null;
  emailalertfreq: number;
  emailalertstatus: number;
  smtp: string | null;
  execute: string[];
  /** Global fallback (IPv4 and IPv6), as written; port null when not given. */
  fallback: { address: string; port: number | null; forward: Forward; line: number } | null;
  fallback6: { address: string; port: number | null; forward: Forward; line: number } | null;
}

export interface ConfigWarning {
  line: number;
  message: string;
}

export interface Config {
  /** The config path as resolved (used in messages, as Perl's $CONFIG). */
  file: string;
  global: GlobalConfig;
  virtuals: VirtualService[];
  warnings: ConfigWarning[];
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`Error reading file ${file} at line ${line}: ${detail}`);
    this.name = 'ConfigError';
  }
}

export function formatWarning(file: string, w: ConfigWarning): string {
  return w.line > 0 ? `Warning reading file ${file} at line ${w.line}: ${w.message}` : `Warning: ${w.message}`;
}

/** `tcp:1.2.3.4:80`, `tcp:[2001:db8::1]:80`, `fwm:5`, `fwm6:5` (Perl get_virtual_id_str). */
export function virtualId(v: Pick<VirtualService, 'protocol' | 'ipv6' | 'address' | 'port' | 'fwmark'>): string {
  if (v.protocol === 'fwm') return `fwm${v.ipv6 ? '6' : ''}:${v.fwmark}`;
  return `${v.protocol}:${hostPort(v.address!, v.port)}`;
}

/** `1.2.3.4` or `[2001:db8::1]`: an address ready to have `:port` or a path appended. */
export function bracketHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** `1.2.3.4:80` or `[2001:db8::1]:80`, the form ipvsadm and the logs use. */
export function hostPort(address: string, port: number | string): string {
  return `${bracketHost(address)}:${port}`;
}

/** Perl get_virtual: `ip:port`, or the fwmark number. Used in log lines. */
export function virtualLabel(v: Pick<VirtualService, 'protocol' | 'address' | 'port' | 'fwmark'>): string {
  return v.protocol === 'fwm' ? String(v.fwmark) : hostPort(v.address!, v.port);
}

/** Port the checks use: checkport, else the real's port, else the service's default. */
export function checkPort(v: VirtualService, r: RealServer): number | null {
  if (v.checkport !== null) return v.checkport;
  if (r.port > 0) return r.port;
  return SERVICE_PORT[v.service] ?? null;
}

/** Perl ld_service_to_port / ld_port_to_service. */
export const SERVICE_PORT: Partial<Record<Service, number>> = {
  ftp: 21,
  smtp: 25,
  dns: 53,
  http: 80,
  pop: 110,
  nntp: 119,
  imap: 143,
  ldap: 389,
  https: 443,
  submission: 587,
  ldaps: 636,
  imaps: 993,
  pops: 995,
  oracle: 1521,
  radius: 1812,
  http_proxy: 3128,
  mysql: 3306,
  sip: 5060,
  pgsql: 5432,
};

export function serviceForPort(port: number): Service {
  for (const [svc, p] of Object.entries(SERVICE_PORT)) if (p === port) return svc as Service;
  return 'none';
}
