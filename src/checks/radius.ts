/** PLACEHOLDER: replaced by the real implementation in this session; never shipped as is. */
import type { Check, RadiusSpec } from './types';

export const checkRadius: Check<RadiusSpec> = async (spec) => ({ up: false, reason: `${spec.kind} check not implemented yet` });
