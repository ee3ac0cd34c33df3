/**
 * Build a check's probe spec from ldirectord.cf text, through the real parser and spec
 * builder (src/checks/target.ts), so a test exercises the whole path from the config line
 * to the packet on the wire.
 */
import { parseConfig } from '../../src/parser/read-config';
import { systemResolver } from '../../src/parser/resolve';
import { negotiateSpec } from '../../src/schedule/target';
import type { ProbeSpec } from '../../src/checks/registry';

/** The negotiate spec of the first real of the first virtual in `cf`. */
export async function specFromConfig<K extends ProbeSpec['kind']>(
  kind: K,
  cf: string,
): Promise<Extract<ProbeSpec, { kind: K }>> {
  const config = await parseConfig(cf, 'test.cf', {
    resolver: systemResolver(),
    hostname: 'director.example.test',
    checkFiles: false,
  });
  const v = config.virtuals[0];
  const spec = negotiateSpec(v, v.reals[0]);
  if (spec.kind !== kind) throw new Error(`expected a ${kind} spec, got ${spec.kind}`);
  return spec as Extract<ProbeSpec, { kind: K }>;
}
