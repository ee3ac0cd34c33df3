/** PLACEHOLDER: replaced by the real implementation in this session; never shipped as is. */
import type { Check, SmtpSpec } from './types';

export const checkSmtp: Check<SmtpSpec> = async (spec) => ({ up: false, reason: `${spec.kind} check not implemented yet` });
