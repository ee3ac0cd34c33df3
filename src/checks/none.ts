/** service=none negotiate checks (Perl check_none): always up, nothing is sent. */
import { up } from './kernel';
import { defineKind } from './kind';

export interface NoneSpec {
  kind: 'none';
  timeoutMs: number;
}

export const none = defineKind<NoneSpec>({
  services: { none: null },
  spec: (t) => ({ kind: 'none', timeoutMs: t.negotiateTimeoutMs }),
  run: async () => up('service none: no check'),
});
