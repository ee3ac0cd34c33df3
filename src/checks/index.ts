/**
 * The check registry: probe kind → check function. One module per kind, all with the
 * same shape (types.ts). Adding a kind means a spec type, a module, and a line here.
 */
import type { Check, ProbeKind, ProbeSpec } from './types';
import { checkConnect } from './connect';
import { checkNone } from './none';
import { checkHttp, releaseHttp } from './http';
import { checkSql } from './sql';
import { checkExternal } from './external';
import { checkPing } from './ping';
import { checkSmtp } from './smtp';
import { checkMailbox } from './mailbox';
import { checkFtp } from './ftp';
import { checkLdap } from './ldap';
import { checkNntp } from './nntp';
import { checkDns } from './dns';
import { checkRadius } from './radius';
import { checkSip } from './sip';
import { checkSimpleTcp } from './simpletcp';

type Registry = { [K in ProbeKind]: Check<Extract<ProbeSpec, { kind: K }>> };

export const CHECKS: Registry = {
  connect: checkConnect,
  none: checkNone,
  http: checkHttp,
  mysql: checkSql,
  pgsql: checkSql,
  oracle: checkSql,
  external: checkExternal,
  ping: checkPing,
  smtp: checkSmtp,
  pop: checkMailbox,
  imap: checkMailbox,
  ftp: checkFtp,
  ldap: checkLdap,
  nntp: checkNntp,
  dns: checkDns,
  radius: checkRadius,
  sip: checkSip,
  simpletcp: checkSimpleTcp,
};

/**
 * Per-probe resources a check kind keeps between checks (HTTP: the probe's kept
 * connection), freed when the probe goes away (reload, stop).
 */
const RELEASE: { [K in ProbeKind]?: (spec: Extract<ProbeSpec, { kind: K }>) => void } = { http: releaseHttp };

export function releaseSpec(spec: ProbeSpec): void {
  (RELEASE[spec.kind] as ((s: ProbeSpec) => void) | undefined)?.(spec);
}
