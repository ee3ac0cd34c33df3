/** PLACEHOLDER: replaced by the real implementation in this session; never shipped as is. */
import type { Check, LdapSpec } from './types';

export const checkLdap: Check<LdapSpec> = async (spec) => ({ up: false, reason: `${spec.kind} check not implemented yet` });
