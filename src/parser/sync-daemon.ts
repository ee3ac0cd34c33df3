/**
 * `syncdaemon = master|backup|both INTERFACE [SYNCID]`, an addition (README "Additions"):
 * its value as the parser reads it. What it does is reconcile/sync-daemon.ts.
 */
import { inert } from '../text/untrusted';

export type SyncState = 'master' | 'backup';
export const SYNC_STATES: readonly SyncState[] = ['master', 'backup'];

/** The directive's value: which threads to run, on which interface, with which sync id. */
export interface SyncDaemonConfig {
  states: SyncState[];
  interface: string;
  syncid: number;
}

/** A Linux interface name (IFNAMSIZ 16 with its NUL), in the characters ipvsadm is given. */
export const INTERFACE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$/;
export const MAX_SYNCID = 255;

/** Read `syncdaemon=`'s text: `STATE INTERFACE [SYNCID]`; an error message, or the value. */
export function parseSyncDaemon(text: string): SyncDaemonConfig | string {
  const words = text.trim().split(/\s+/);
  const [state, ifname, id, ...rest] = words;
  const usage = 'syncdaemon must be "master", "backup" or "both", an interface and an optional sync id (0-255)';
  if (rest.length || !state || !ifname) return usage;
  const states: SyncState[] | null =
    state === 'both' ? ['master', 'backup'] : state === 'master' || state === 'backup' ? [state] : null;
  if (!states) return usage;
  if (!INTERFACE_NAME.test(ifname)) return `syncdaemon: invalid interface name "${inert(ifname, 40)}"`;
  let syncid = 0;
  if (id !== undefined) {
    if (!/^\d{1,3}$/.test(id) || Number(id) > MAX_SYNCID) return usage;
    syncid = Number(id);
  }
  return { states, interface: ifname, syncid };
}
