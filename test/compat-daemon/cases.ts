/** Shared pieces of the side-by-side test files. */
import assert from 'node:assert/strict';
import { requirePart } from '../helpers/env';
import { runScenario, type Ctx, type Scenario, type Step } from './scenario';
import { missingPerlDaemon } from './sides';

/**
 * One check pass a second. Every fault in these runs is immediate (a refused connection,
 * an HTTP error, a wrong body), so the timeouts never slow a run down; they are generous
 * so that a loaded machine (the scenarios run in parallel) cannot fail a healthy check.
 */
export const GLOBAL = `
checkinterval=1
checktimeout=5
negotiatetimeout=10
`;

/** Run a scenario and fail with every difference found (both tables, both logs). */
export async function check(ctx: Mocha.Context, sc: Scenario, more: (string | null)[] = []): Promise<void> {
  requirePart(ctx, missingPerlDaemon());
  for (const m of more) requirePart(ctx, m);
  const out = await runScenario(sc);
  for (const n of out.notes) console.log(`      ${n}`);
  console.log(`      (${(out.elapsedMs / 1000).toFixed(1)} s)`);
  assert.ok(
    out.problems.length === 0,
    `${out.problems.length} difference(s) from the Perl original:\n\n${out.problems.join('\n\n')}`,
  );
}

export const step = (name: string, act: (c: Ctx) => Promise<void>, more: Partial<Step> = {}): Step => ({
  name,
  act,
  ...more,
});

/**
 * The common fault script for a virtual whose reals are 127.40.<net>.2 and .3 (and which
 * has a fallback): .3 down, .2 down too (fallback in), .2 back (fallback out), .3 back.
 * `ours` optionally anchors this daemon's table at each checkpoint.
 */
export function faults(
  net: number,
  port: number,
  opts: { ours?: Partial<Record<'one down' | 'all down' | 'one back' | 'all back', string[]>> } = {},
): Step[] {
  const r2 = `127.40.${net}.2:${port}`;
  const r3 = `127.40.${net}.3:${port}`;
  const ours = opts.ours ?? {};
  return [
    step(`${r3} down`, (c) => c.down(r3), { ours: ours['one down'] }),
    step('every real of the virtual down (fallback)', (c) => c.down(r2), { ours: ours['all down'] }),
    step(`${r2} back (fallback out)`, (c) => c.up(r2), { ours: ours['one back'] }),
    step(`${r3} back`, (c) => c.up(r3), { ours: ours['all back'] }),
  ];
}
