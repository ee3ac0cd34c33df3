/** PLACEHOLDER: replaced by the real implementation in this session; never shipped as is. */
import type { Check, PingSpec } from './types';

export const checkPing: Check<PingSpec> = async (spec) => ({ up: false, reason: `${spec.kind} check not implemented yet` });
