/**
 * The pid file, where scripts and the OCF agent look for a running daemon:
 * /var/run/ldirectord.<cfgname>.pid holding the pid and a newline (spec §1.3).
 *
 * A pid file counts only when /proc/<pid>/cmdline names ldirectord (else it is stale).
 * It is created without following symlinks (O_NOFOLLOW | O_EXCL, after removing a stale
 * file), mode 0644, and removed only by the process whose pid it holds.
 * LDIRECTORD_RUN_DIR overrides /var/run (tests, unprivileged use).
 */
import { constants, closeSync, lstatSync, openSync, readFileSync, realpathSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

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
  return { path, filePid, running: filePid !== null && filePid > 0 && isLdirectord(filePid) ? filePid : null };
}

/**
 * The original's test: the process's command line names ldirectord. This program also
 * recognises itself by its own path, so it works when run from a checkout (dist/cli.js).
 */
export function isLdirectord(pid: number): boolean {
  try {
    if (!isAlive(pid)) return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return /ldirectord/.test(cmdline) || SELF.some((p) => cmdline.split('\0').includes(p));
  } catch {
    return false;
  }
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
