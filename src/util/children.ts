/**
 * Every child process the daemon starts (ipvsadm, check commands, ping, mailers,
 * fallback commands) is registered here while it runs, so that the daemon, when it exits,
 * ends what is still in flight instead of leaving orphans behind (a check command that
 * hangs, an ipvsadm stuck on a lock).
 */
import type { ChildProcess } from 'node:child_process';

interface Tracked {
  child: ChildProcess;
  /** Started in a process group of its own (detached): the whole group is signalled. */
  group: boolean;
}

const running = new Set<Tracked>();

/** Register `child` until it exits. Returns it, for chaining at the spawn site. */
export function trackChild<C extends ChildProcess>(child: C, opts: { group?: boolean } = {}): C {
  if (child.pid === undefined) return child; // it never started ('error' follows)
  const t: Tracked = { child, group: opts.group ?? false };
  running.add(t);
  const forget = () => running.delete(t);
  child.once('exit', forget);
  child.once('error', forget);
  return child;
}

/** How many registered children are still running. */
export function childrenRunning(): number {
  return running.size;
}

function signal(t: Tracked, sig: NodeJS.Signals): void {
  const pid = t.child.pid!;
  try {
    if (t.group) process.kill(-pid, sig);
    else t.child.kill(sig);
  } catch {
    // already gone
  }
}

/**
 * End every registered child: TERM now, KILL whatever is left after `graceMs`. Resolves
 * once they are all gone or the KILL has been sent.
 */
export async function endChildren(graceMs = 1000): Promise<void> {
  if (running.size === 0) return;
  for (const t of running) signal(t, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (running.size && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  for (const t of running) signal(t, 'SIGKILL');
}
