/**
 * Reload: keep the identity of what did not change.
 *
 * A reload parses the whole file into new objects. A virtual service whose resolved
 * definition is the same as before (every directive, every real, inherited globals
 * included; only the line numbers may differ) is replaced by the object the daemon already
 * runs. Everything keyed by that object then carries over as is: its probes and their
 * health and timers, its cached plan, its kept connections. A reload that changes one
 * weight among 10,000 reals then costs one virtual's worth of work, not 10,000 reals'.
 *
 * Pure: the new config is not modified; a new Config is returned when anything carried
 * over.
 */
import type { Config, VirtualService } from './model';

export function carryOver(old: Config | null, next: Config): Config {
  if (!old) return next;
  const byId = new Map<string, VirtualService>();
  for (const v of old.virtuals) byId.set(v.id, v);
  let kept = 0;
  const virtuals = next.virtuals.map((v) => {
    const was = byId.get(v.id);
    if (was && same(was, v)) {
      kept++;
      return was;
    }
    return v;
  });
  return kept ? { ...next, virtuals } : next;
}

/** Deep equality of parsed config values, ignoring where they were written (`line`). */
export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra);
  if (ka.length !== Object.keys(rb).length) return false;
  for (const k of ka) {
    if (k === 'line') continue;
    if (!(k in rb) || !same(ra[k], rb[k])) return false;
  }
  return true;
}
