/** PLACEHOLDER: replaced by the real implementation in this session; never shipped as is. */
import type { Check, SimpleTcpSpec } from './types';

export const checkSimpleTcp: Check<SimpleTcpSpec> = async (spec) => ({ up: false, reason: `${spec.kind} check not implemented yet` });
