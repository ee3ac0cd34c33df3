/**
 * `ldirectord CONFIG drain REAL [--virtual V] [--timeout S]` and `undrain REAL [--virtual
 * V]`: ask the running daemon, over its status socket, to drain a real (weight 0 now, out
 * of the table once its connections end or after S seconds, default 300) or to give it
 * back to its checks. The daemon keeps drains in its state file, so they outlive a reload,
 * a restart and a SIGKILL (reconcile/policy.ts, daemon/state-file.ts).
 *
 * Exit 0: done for at least one real; 1: no real of the config matched, or the daemon
 * refused; 3: no daemon runs for CONFIG.
 */
import { readPidFile } from '../daemon/pidfile';
import { query, type DrainAnswer } from '../daemon/status-protocol';
import { inert } from '../text/untrusted';
import type { DrainOptions, GlobalOptions } from './args';

export async function runDrain(
  cfgname: string,
  undo: boolean,
  drain: DrainOptions,
  opts: GlobalOptions,
): Promise<number> {
  const cmd = undo ? 'undrain' : 'drain';
  let answer: DrainAnswer;
  try {
    answer = await query(cfgname, cmd, 5000, {
      real: drain.real,
      virtual: drain.virtual,
      ...(drain.timeout === null ? {} : { timeout: drain.timeout }),
    });
  } catch (e) {
    const running = readPidFile(cfgname).running;
    process.stderr.write(
      running === null
        ? `ldirectord ${cmd}: no ldirectord runs for ${cfgname}\n`
        : `ldirectord ${cmd}: the daemon (pid ${running}) does not answer: ${(e as Error).message}\n`,
    );
    return running === null ? 3 : 1;
  }
  if (opts.json) process.stdout.write(JSON.stringify(answer) + '\n');
  if (answer.error) {
    if (!opts.json) process.stderr.write(`ldirectord ${cmd}: ${inert(answer.error)}\n`);
    return 1;
  }
  if (!answer.changed.length) {
    const where = drain.virtual === null ? '' : ` in ${drain.virtual}`;
    const what = undo ? 'drained real server' : 'real server';
    if (!opts.json) process.stderr.write(`ldirectord ${cmd}: no ${what} ${inert(drain.real)}${where}\n`);
    return 1;
  }
  if (!opts.json) {
    for (const key of answer.changed) {
      const [virtual, real] = key.split('|');
      process.stdout.write(undo ? `undrained ${real} in ${virtual}\n` : `draining ${real} in ${virtual}\n`);
    }
  }
  return 0;
}
