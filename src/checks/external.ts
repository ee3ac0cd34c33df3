/**
 * checktype=external and external-perl (Perl check_external / system_timeout and
 * check_external_perl).
 *
 * The command runs with an argv array (never a shell), as Perl's exec(LIST) did, with the
 * arguments `<vip or fwmark> <vport> <rip> <rport>`. Exit 0 is up; anything else is down.
 * external-perl runs `perl <file> <args>`: the file is Perl code, so exit(N) gives N, die
 * gives a non-zero status and falling off the end gives 0, as in the Perl daemon (which
 * ran it in-process; a separate perl keeps a broken check file from taking the daemon
 * down).
 *
 * Differences from Perl, on purpose:
 *   - the child gets its own process group, and at the deadline the whole group is
 *     killed (TERM, then KILL), so a check script's own children die with it (Perl sent
 *     TERM to the child only, and left its children running);
 *   - a clean, minimal environment (PATH, LANG=C and LDIRECTORD_* below), stdin from
 *     /dev/null and the working directory /, whatever the daemon's own were.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Check, ExternalSpec } from './types';
import { timeoutReason } from './reason';

const CHECK_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
/** How much of the command's stderr ends up in the reason. */
const STDERR_TAIL = 200;
/** Between the TERM and the KILL sent to the process group at the deadline. */
const KILL_GRACE_MS = 100;
/** After the command exits, how long its output pipes may stay open (held by a child it left). */
const CLOSE_GRACE_MS = 50;

type Result = { up: boolean; reason: string };

/** The environment a check command gets: nothing of the daemon's own. */
function checkEnv(spec: ExternalSpec): Record<string, string> {
  const env: Record<string, string> = {
    PATH: CHECK_PATH,
    LANG: 'C',
    LDIRECTORD_TIMEOUT: String(spec.timeoutMs / 1000),
  };
  const [vip, vport, rip, rport] = spec.args;
  if (spec.args.length === 4)
    Object.assign(env, { LDIRECTORD_VIP: vip, LDIRECTORD_VPORT: vport, LDIRECTORD_RIP: rip, LDIRECTORD_RPORT: rport });
  return env;
}

/** Signal a whole process group, ignoring "no such process". */
function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // already gone
  }
}

function abortReason(signal: AbortSignal, timeoutMs: number): string {
  if (signal.reason instanceof Error) return signal.reason.message;
  return timeoutReason(timeoutMs);
}

/** One line of the last bytes a command wrote to stderr. */
function tailText(buf: Buffer): string {
  return buf
    .toString('utf8')
    .replace(/^\uFFFD+/, '')
    .trim()
    .replace(/\s*\n\s*/g, ' | ');
}

export const checkExternal: Check<ExternalSpec> = (spec, { signal }) =>
  new Promise<Result>((resolve) => {
    const file = spec.interpreter ?? spec.command;
    const argv = spec.interpreter ? [spec.command, ...spec.args] : spec.args;
    if (signal.aborted) return resolve({ up: false, reason: abortReason(signal, spec.timeoutMs) });
    let child: ChildProcess;
    try {
      child = spawn(file, argv, {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: checkEnv(spec),
        cwd: '/',
        windowsHide: true,
      });
    } catch (e) {
      return resolve({
        up: false,
        reason: `cannot run ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      });
    }
    let stderr = Buffer.alloc(0);
    let done = false;
    let exitTimer: NodeJS.Timeout | undefined;
    child.stdout!.on('data', () => undefined); // drained, not kept
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr =
        stderr.length + chunk.length <= STDERR_TAIL
          ? Buffer.concat([stderr, chunk])
          : Buffer.concat([stderr, chunk]).subarray(-STDERR_TAIL);
    });
    const finish = (r: Result) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      if (exitTimer) clearTimeout(exitTimer);
      child.stdout!.destroy();
      child.stderr!.destroy();
      resolve(r);
    };
    const fromExit = (code: number | null, sig: NodeJS.Signals | null): Result => {
      if (code === 0) return { up: true, reason: 'exit status 0' };
      const why = sig ? `killed by ${sig}` : `exit status ${code}`;
      const tail = tailText(stderr);
      return { up: false, reason: tail ? `${why}: ${tail}` : why };
    };
    const onAbort = () => {
      const pid = child.pid;
      if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
        killGroup(pid, 'SIGTERM');
        setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS).unref();
      } else if (pid !== undefined) {
        // The command is gone but something it started may still hold the group.
        killGroup(pid, 'SIGKILL');
      }
      finish({ up: false, reason: abortReason(signal, spec.timeoutMs) });
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e: NodeJS.ErrnoException) =>
      finish({ up: false, reason: `cannot run ${file}: ${e.code ?? e.message}` }),
    );
    // 'close' comes once the output pipes are closed too; a child the command left behind
    // may hold them open, so the exit status alone decides after a short wait.
    child.once('exit', (code, sig) => {
      exitTimer = setTimeout(() => finish(fromExit(code, sig)), CLOSE_GRACE_MS);
    });
    child.once('close', (code: number | null, sig: NodeJS.Signals | null) => finish(fromExit(code, sig)));
  });
