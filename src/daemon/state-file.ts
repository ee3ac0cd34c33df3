/**
 * The daemon's state file: what an operator asked for and what is under way that a restart
 * (or a SIGKILL) must not forget: drains, and slow starts (reconcile/policy.ts). One JSON
 * document per config, /var/lib/ldirectord/<cfgname>.state (LDIRECTORD_STATE_DIR moves it;
 * with only LDIRECTORD_RUN_DIR set, it goes there too: tests and unprivileged runs).
 *
 * Written whole to a new file (O_EXCL, O_NOFOLLOW, mode 0600) and renamed over the old one,
 * so a crash leaves the old state or the new one, never half of one. A config that uses no
 * pool policy never creates it; an empty state removes it.
 */
import {
  closeSync,
  constants,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Drain, PolicyState } from '../reconcile/policy';

/** The most read from a state file (it holds one small record per drained or ramping real). */
const MAX_STATE = 4 * 1024 * 1024;

export function stateFilePath(cfgname: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.LDIRECTORD_STATE_DIR || env.LDIRECTORD_RUN_DIR || '/var/lib/ldirectord';
  return join(dir, `${cfgname}.state`);
}

export const EMPTY_STATE: PolicyState = { drains: {}, ramps: {} };

/** The state kept at `path`: empty when there is none; a damaged file is an error to log. */
export function readState(path: string): { state: PolicyState; error: string | null } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { state: EMPTY_STATE, error: code === 'ENOENT' ? null : `cannot read ${path}: ${code}` };
  }
  try {
    const buf = Buffer.alloc(MAX_STATE + 1);
    let n = 0;
    for (let got; n <= MAX_STATE && (got = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += got;
    if (n > MAX_STATE) return { state: EMPTY_STATE, error: `${path} is over ${MAX_STATE} bytes: ignored` };
    return { state: validState(JSON.parse(buf.subarray(0, n).toString('utf8'))), error: null };
  } catch (e) {
    return { state: EMPTY_STATE, error: `${path} is damaged (${(e as Error).message}): ignored` };
  } finally {
    closeSync(fd);
  }
}

/** Keep `state` at `path` (or remove the file when there is nothing to keep). */
export function writeState(path: string, state: PolicyState): void {
  if (!Object.keys(state.drains).length && !Object.keys(state.ramps).length) {
    try {
      unlinkSync(path);
    } catch {
      // nothing kept
    }
    return;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    unlinkSync(tmp);
  } catch {
    // no leftover
  }
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, JSON.stringify({ version: 1, ...state }) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Only well-formed records are believed; anything else in the file is dropped. */
function validState(doc: unknown): PolicyState {
  const out: PolicyState = { drains: {}, ramps: {} };
  const d = doc as { drains?: Record<string, Partial<Drain>>; ramps?: Record<string, unknown> } | null;
  for (const [key, v] of Object.entries(d?.drains ?? {})) {
    if (
      typeof v?.since === 'number' &&
      typeof v.deadline === 'number' &&
      (v.phase === 'draining' || v.phase === 'drained')
    ) {
      out.drains[key] = { since: v.since, deadline: v.deadline, phase: v.phase };
    }
  }
  for (const [key, v] of Object.entries(d?.ramps ?? {})) if (typeof v === 'number') out.ramps[key] = v;
  return out;
}
