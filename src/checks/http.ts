/** PLACEHOLDER: replaced by the real implementation in this session; never shipped as is. */
import type { Check, HttpSpec } from './types';

export const checkHttp: Check<HttpSpec> = async (spec) => ({ up: false, reason: `${spec.kind} check not implemented yet` });
