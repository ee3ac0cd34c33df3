/**
 * The pid file, where scripts and the OCF agent look for a running daemon:
 * /var/run/ldirectord.<cfgname>.pid holding the pid and a newline (spec §1.3).
 *
 * A pid file counts only when its process is an ldirectord daemon for the same config
 * (isLdirectord: its program and arguments), else it is stale.
 * It is created without following symlinks (O_NOFOLLOW | O_EXCL, after removing a stale
 * file), mode 0644, and removed only by the process whose pid it holds.
 * LDIRECTORD_RUN_DIR overrides /var/run (tests, unprivileged use).
 */
import { constants, closeSync, lstatSync, openSync, readFileSync, realpathSync, unlinkSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { cfgName } from '../parser/load';

/** This program's entry point (dist/cli.js), however it was invoked. */
const SELF = (() => {
  const cli = join(__dirname, '..', 'cli.js');
  try {
    return [cli, realpathSync(cli)];
  } catch {
    return [cli];
  }
})();

export function runDir(): string {
  return process.env.LDIRECTORD_RUN_DIR || '/var/run';
}

export function pidFilePath(cfgname: string): string {
  return join(runDir(), `ldirectord.${cfgname}.pid`);
}

export interface PidState {
  path: string;
  /** The pid in the file, when there is a readable one. */
  filePid: number | null;
  /** That pid, when it is a live ldirectord. */
  running: number | null;
}

export function readPidFile(cfgname: string): PidState {
  const path = pidFilePath(cfgname);
  let filePid: number | null = null;
  try {
    const first = readFileSync(path, 'utf8').split('\n')[0]!.trim();
    if (/^\d+$/.test(first)) filePid = Number(first);
    else if (first !== '') filePid = -1;
  } catch {
    return { path, filePid: null, running: null };
  }
  return { path, filePid, running: filePid !== null && filePid > 0 && isLdirectord(filePid, cfgname) ? filePid : null };
}

/** Programs that run an ldirectord script: this one (node) and the original (perl). */
const INTERPRETERS = /^(node|nodejs|perl[\d.]*)$/;

/**
 * Whether `pid` is an ldirectord daemon for the config named `cfgname`: a recycled pid
 * of another program is never taken for one (and never signalled).
 *
 * The original's test was "/proc/<pid>/cmdline contains ldirectord", which `vim
 * ldirectord.cf` or `tail -f /var/log/ldirectord.log` pass. Here the command line must be
 * an interpreter (node, perl) running a script named ldirectord (or this program's own
 * dist/cli.js, run from a checkout), or a program named ldirectord itself, and its config
 * argument must give the same pid file name (`cfgname`, as ld_init derives it).
 */
export function isLdirectord(pid: number, cfgname?: string): boolean {
  let args: string[];
  try {
    if (!isAlive(pid)) return false;
    args = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
  } catch {
    return false;
  }
  if (args.at(-1) === '') args.pop();
  const isScript = (a: string | undefined) => a !== undefined && (/ldirectord/.test(basename(a)) || SELF.includes(a));
  let at: number;
  if (isScript(args[0]) && !INTERPRETERS.test(basename(args[0]!))) at = 0;
  else if (INTERPRETERS.test(basename(args[0] ?? ''))) {
    // The script is the interpreter's first argument that is not an option of its own.
    at = args.findIndex((a, i) => i > 0 && !a.startsWith('-'));
    if (at < 0 || !isScript(args[at])) return false;
  } else return false;
  if (cfgname === undefined) return true;
  return cfgnameOf(args.slice(at + 1)) === cfgname;
}

/** The cfgname a daemon's arguments give (options skipped): ld_init's rule (cli/args.ts). */
function cfgnameOf(args: string[]): string | null {
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (a === '--ipvsadm' || a === '--metrics') i++;
    else if (!a.startsWith('-')) positional.push(a);
  }
  if (positional.length === 0) return null;
  return positional.length === 1 ? cfgName('ldirectord.cf', false) : cfgName(positional[0]!, true);
}

/**
 * Whether a process still runs. A daemon that has exited but is not reaped yet (its
 * parent, the `start` command, is gone, and init reaps when it gets to it) is a zombie:
 * kill(pid, 0) still succeeds, but it is finished.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Create the pid file for this process. Throws when another live daemon holds it. */
export function writePidFile(cfgname: string, pid = process.pid): string {
  const path = pidFilePath(cfgname);
  const cur = readPidFile(cfgname);
  if (cur.running !== null && cur.running !== pid)
    throw new Error(`ldirectord for ${cfgname} is already running with pid ${cur.running}`);
  try {
    const st = lstatSync(path);
    // A stale file, or a symlink planted where the pid file goes: remove the entry itself.
    if (st.isFile() || st.isSymbolicLink()) unlinkSync(path);
  } catch {
    // no file
  }
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    writeSync(fd, `${pid}\n`);
  } finally {
    closeSync(fd);
  }
  return path;
}

export function removePidFile(cfgname: string, pid = process.pid): void {
  const cur = readPidFile(cfgname);
  if (cur.filePid === pid) {
    try {
      unlinkSync(cur.path);
    } catch {
      // already gone
    }
  }
}
