/** PLACEHOLDER: replaced by the real implementation in this session; never shipped as is. */
import type { Check, NntpSpec } from './types';

export const checkNntp: Check<NntpSpec> = async (spec) => ({ up: false, reason: `${spec.kind} check not implemented yet` });
