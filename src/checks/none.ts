/** service=none: always up (Perl check_none). */
import type { Check, NoneSpec } from './types';

export const checkNone: Check<NoneSpec> = async () => ({ up: true, reason: 'service none: no check' });
