/**
 * `service=` names: the original's (the language of an unchanged Perl file) and this
 * daemon's additions, both taken from the check registry, where each check kind declares
 * the services it checks and their default ports (Perl ld_service_to_port).
 */
import { SERVICES } from '../checks/registry';

/** The original's services, in the order its error message lists them. */
const PERL_SERVICES = [
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

/** Every service= name accepted. */
export const SERVICE_NAMES: ReadonlySet<string> = new Set(SERVICES.keys());

/** Perl's text for a service= it does not know (an unchanged file gets the original's message). */
export const SERVICE_ERROR = `service must be ${PERL_SERVICES.slice(0, -1).join(', ')} or ${PERL_SERVICES.at(-1)}`;

/** The port a check of `service` uses when neither checkport nor the real give one. */
export function servicePort(service: string): number | null {
  return SERVICES.get(service)?.port ?? null;
}

/**
 * Perl ld_port_to_service: the service a virtual's port implies when service= is not
 * given. Only the original's services: a port that an addition happens to use must not
 * change what an unchanged Perl file means.
 */
export function serviceForPort(port: number): string {
  return PERL_SERVICES.find((s) => servicePort(s) === port) ?? 'none';
}
