/** PLACEHOLDER: replaced by the real implementation in this session; never shipped as is. */
import type { Check, ExternalSpec } from './types';

export const checkExternal: Check<ExternalSpec> = async (spec) => ({ up: false, reason: `${spec.kind} check not implemented yet` });
