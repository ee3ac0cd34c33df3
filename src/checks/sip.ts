/** PLACEHOLDER: replaced by the real implementation in this session; never shipped as is. */
import type { Check, SipSpec } from './types';

export const checkSip: Check<SipSpec> = async (spec) => ({ up: false, reason: `${spec.kind} check not implemented yet` });
