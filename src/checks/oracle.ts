/**
 * service=oracle: named by the original (DBD::Oracle), refused here when the configuration
 * is read: no Oracle server can run in this project's tests, so there is no check to trust.
 * A connect check, or an external check running the operator's own query, does instead.
 */
import { down } from './kernel';
import { defineKind } from './kind';

export interface OracleSpec {
  kind: 'oracle';
  timeoutMs: number;
}

export const oracle = defineKind<OracleSpec>({
  services: { oracle: 1521 },
  unsupported:
    'service=oracle negotiate checks are not supported by this ldirectord: use checktype=connect, or checktype=external with a checkcommand that runs your query',
  spec: (t) => ({ kind: 'oracle', timeoutMs: t.negotiateTimeoutMs }),
  run: async () => down('error', 'service=oracle negotiate checks are not supported'),
});
