/** PLACEHOLDER: replaced by the real implementation in this session; never shipped as is. */
import type { Check, SqlSpec } from './types';

export const checkSql: Check<SqlSpec> = async (spec) => ({ up: false, reason: `${spec.kind} check not implemented yet` });
