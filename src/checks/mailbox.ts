/** PLACEHOLDER: replaced by the real implementation in this session; never shipped as is. */
import type { Check, MailboxSpec } from './types';

export const checkMailbox: Check<MailboxSpec> = async (spec) => ({ up: false, reason: `${spec.kind} check not implemented yet` });
