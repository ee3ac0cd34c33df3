/**
 * The check kinds: one line each. A kind is one module (its spec, its dialogue); adding one
 * is a new file and a line here. The parser takes the `service=` names it accepts from
 * this table (serviceNames), and the scheduler dispatches probe specs through it.
 */
import { connect } from './connect';
import { dns } from './dns';
import { external } from './external';
import { ftp } from './ftp';
import { http } from './http';
import type { CheckKind, SpecBase } from './kind';
import { ldap } from './ldap';
import { mailbox } from './mailbox';
import { nntp } from './nntp';
import { none } from './none';
import { oracle } from './oracle';
import { ping } from './ping';
import { radius } from './radius';
import { simpletcp } from './simpletcp';
import { sip } from './sip';
import { smtp } from './smtp';
import { sql } from './sql';

export const CHECK_KINDS = {
  connect,
  ping,
  external,
  none,
  http,
  sql,
  oracle,
  smtp,
  mailbox,
  ftp,
  ldap,
  nntp,
  dns,
  radius,
  sip,
  simpletcp,
};

export type KindName = keyof typeof CHECK_KINDS;
type SpecOf<K> = K extends CheckKind<infer S> ? S : never;
/** Every probe spec, discriminated by `kind` (its kind's name in the table). */
export type ProbeSpec = { [K in KindName]: SpecOf<(typeof CHECK_KINDS)[K]> & { kind: K } }[KindName];

/** The kind that runs a spec. */
export function kindOf(spec: ProbeSpec): CheckKind<SpecBase> {
  return CHECK_KINDS[spec.kind] as unknown as CheckKind<SpecBase>;
}

/** `service=` names (Perl's and this daemon's) → the kind that checks them, and its default port. */
export const SERVICES: ReadonlyMap<string, { kind: CheckKind<SpecBase>; port: number | null }> = new Map(
  Object.values(CHECK_KINDS).flatMap((k) =>
    Object.entries((k as CheckKind<SpecBase>).services ?? {}).map(([name, port]) => [
      name,
      { kind: k as CheckKind<SpecBase>, port },
    ]),
  ),
);

/** Free what a kind keeps for a probe that is gone (reload, stop). */
export function releaseSpec(spec: ProbeSpec): void {
  kindOf(spec).release?.(spec);
}
