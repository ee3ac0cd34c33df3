/**
 * How the V8 heap of the daemon process grows.
 *
 * A daemon checking thousands of reals a second allocates steadily, and part of it lives
 * as long as a check interval (a result kept until the next check, a kept connection's
 * last exchange), so it outlives the young generation and is only freed by a full
 * collection. V8's default growth factor lets the old generation reach three to four
 * times its live size before collecting: 115 MiB of live data at 10,000 reals became a
 * 480 MiB heap and 580 MiB of RSS. A 20 % growth factor collects at 1.2 times the live
 * size instead, about one full collection a second at that scale, mostly incremental
 * marking on the other core. Smaller configs keep V8's heuristics (LARGE_PROBES). A smaller
 * heap does not fail: V8 only collects sooner, and the limit follows the live size as it
 * grows. Measured at 10,000 reals with HTTP checks every second (npm run bench): RSS
 * 227 MiB and 0.7 of a core, against 256 MiB at 40 %.
 *
 * Set at run time (the daemon may run in the foreground under -d or supervised=yes, where
 * nothing can pass it flags); V8 reads the factor at each collection. The young
 * generation's size cannot be changed that way, so the CLI's own first line asks for
 * 8 MiB semi-spaces (`#!/usr/bin/env -S node --max-semi-space-size=8`, src/cli.ts): a
 * smaller nursery promotes a little more but keeps 16 MiB less resident, and the daemon
 * spawned by `start` inherits the flag.
 *
 * LDIRECTORD_HEAP_GROWING_PERCENT overrides the factor (0 leaves V8's own heuristics).
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 20;
/**
 * Below this many probes V8's own heuristics keep the heap small anyway (126 MiB of RSS at
 * 2,000 reals either way) and cost less CPU (11.5 against 14 s a minute), so the tight
 * factor is only asked for from here on.
 */
export const LARGE_PROBES = 4000;

/**
 * Set the growth factor for a daemon about to check `probes` reals (before the first
 * check, and at every reload): the limits the heap grows to are set as it grows, so a
 * factor asked for later only bites after the next full collection. 0 is V8's default:
 * its own heuristics.
 */
export function tuneHeap(probes: number, env: NodeJS.ProcessEnv = process.env): number {
  const asked = env.LDIRECTORD_HEAP_GROWING_PERCENT;
  const percent =
    asked !== undefined && /^\d+$/.test(asked) ? Number(asked) : probes >= LARGE_PROBES ? HEAP_GROWING_PERCENT : 0;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
