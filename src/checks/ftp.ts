/** PLACEHOLDER: replaced by the real implementation in this session; never shipped as is. */
import type { Check, FtpSpec } from './types';

export const checkFtp: Check<FtpSpec> = async (spec) => ({ up: false, reason: `${spec.kind} check not implemented yet` });
