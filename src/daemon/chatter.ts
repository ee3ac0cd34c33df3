/**
 * What libraries print on their own (mysql2's console.warn about a server's options,
 * Node's process warnings) goes through the daemon's logger: one bounded, inert line
 * each, at most CHATTER_PER_MINUTE a minute, then one line saying how many were left out.
 * A real server that makes a library complain at every check cannot flood the log, and
 * nothing reaches a terminal raw.
 */
import { format } from 'node:util';
import type { Logger } from '../util/log';
import { inert } from '../text/untrusted';

export const CHATTER_PER_MINUTE = 10;
const MINUTE_MS = 60_000;

export function routeLibraryChatter(log: Logger, now: () => number = Date.now): () => void {
  let windowStart = now();
  let inWindow = 0;
  let suppressed = 0;
  const say = (level: 'warn' | 'error', args: unknown[]) => {
    const t = now();
    if (t - windowStart >= MINUTE_MS) {
      if (suppressed) log.warn(`${suppressed} more library messages were left out in the last minute`);
      windowStart = t;
      inWindow = 0;
      suppressed = 0;
    }
    if (++inWindow > CHATTER_PER_MINUTE) {
      suppressed++;
      return;
    }
    log[level](`library: ${inert(format(...args))}`);
  };
  /* eslint-disable no-console -- this is where console output is taken over */
  const saved = { warn: console.warn, error: console.error, log: console.log, info: console.info };
  console.warn = (...a: unknown[]) => say('warn', a);
  console.error = (...a: unknown[]) => say('error', a);
  console.log = (...a: unknown[]) => say('warn', a);
  console.info = (...a: unknown[]) => say('warn', a);
  /* eslint-enable no-console */
  const onWarning = (w: Error) => say('warn', [`${w.name}: ${w.message}`]);
  process.on('warning', onWarning);
  return () => {
    Object.assign(console, saved);
    process.removeListener('warning', onWarning);
  };
}
