/** PLACEHOLDER: replaced by the real implementation in this session; never shipped as is. */
import type { Check, DnsSpec } from './types';

export const checkDns: Check<DnsSpec> = async (spec) => ({ up: false, reason: `${spec.kind} check not implemented yet` });
