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
import { aborted, codeText, down, inert, session, up, type Verdict } from './kernel';
import { CHECK_PATH } from '../util/command-env';
import { defineKind } from './kind';
import { trackChild } from '../util/children';

export interface ExternalSpec {
  kind: 'external';
  /** The program, then its arguments; run with spawn and an argv, never a shell. */
  command: string;
  args: string[];
  /** external-perl: run the file with perl rather than executing it. */
  interpreter: string | null;
  timeoutMs: number;
}

/** How much of the command's stderr ends up in the reason. */
const STDERR_TAIL = 200;
/** Between the TERM and the KILL sent to the process group at the deadline. */
const KILL_GRACE_MS = 100;
/** After the command exits, how long its output pipes may stay open (held by a child it left). */
const CLOSE_GRACE_MS = 50;

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

/** One line of the last bytes a command wrote to stderr, inert. */
function tailText(buf: Buffer): string {
  return inert(
    buf
      .toString('utf8')
      .replace(/^\uFFFD+/, '')
      .trim()
      .replace(/\s*\n\s*/g, ' | '),
  );
}

export const external = defineKind<ExternalSpec>({
  // Perl passes $$v{server} (or the fwmark), $$v{port}, $$r{server}, $$r{port}; IPv6
  // addresses in brackets, a fwmark's port as 0.
  spec: (t) => ({
    kind: 'external',
    command: t.checkcommand,
    args: [t.vip, String(t.vport), t.host.includes(':') ? `[${t.host}]` : t.host, String(t.realPort)],
    interpreter: t.perl ? 'perl' : null,
    timeoutMs: t.connectTimeoutMs,
  }),
  run: (spec, { signal }) => {
    const file = spec.interpreter ?? spec.command;
    const argv = spec.interpreter ? [spec.command, ...spec.args] : spec.args;
    let child: ChildProcess | undefined;
    let stderr = Buffer.alloc(0);
    let exitTimer: NodeJS.Timeout | undefined;
    const fromExit = (code: number | null, sig: NodeJS.Signals | null): Verdict => {
      if (code === 0) return up('exit status 0');
      const why = sig ? `killed by ${sig}` : `exit status ${code}`;
      const tail = tailText(stderr);
      return down('exec', tail ? `${why}: ${tail}` : why);
    };
    return session(
      signal,
      (settle) => {
        const c = trackChild(
          spawn(file, argv, {
            detached: true,
            stdio: ['ignore', 'pipe', 'pipe'],
            env: checkEnv(spec),
            cwd: '/',
            windowsHide: true,
          }),
          { group: true },
        );
        child = c;
        c.once('error', (e) => settle(down('exec', `cannot run ${file}: ${codeText(e)}`)));
        // Without descriptors left, spawn reports EMFILE through 'error' and has no pipes.
        c.stdout?.on('data', () => undefined); // drained, not kept
        c.stderr?.on('data', (chunk: Buffer) => {
          const all = Buffer.concat([stderr, chunk]);
          stderr = all.length <= STDERR_TAIL ? all : all.subarray(-STDERR_TAIL);
        });
        // 'close' comes once the output pipes are closed too; a child the command left behind
        // may hold them open, so the exit status alone decides after a short wait.
        c.once('exit', (code, sig) => {
          exitTimer = setTimeout(() => settle(fromExit(code, sig)), CLOSE_GRACE_MS);
        });
        c.once('close', (code: number | null, sig: NodeJS.Signals | null) => settle(fromExit(code, sig)));
        return () => {
          if (exitTimer) clearTimeout(exitTimer);
          c.stdout?.destroy();
          c.stderr?.destroy();
        };
      },
      () => {
        const pid = child?.pid;
        if (pid !== undefined && child!.exitCode === null && child!.signalCode === null) {
          killGroup(pid, 'SIGTERM');
          setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS).unref();
        } else if (pid !== undefined) {
          // The command is gone but something it started may still hold the group.
          killGroup(pid, 'SIGKILL');
        }
        return aborted(signal);
      },
      (e) => down('exec', `cannot run ${file}: ${codeText(e)}`),
    );
  },
});
