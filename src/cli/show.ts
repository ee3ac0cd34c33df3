/**
 * `ldirectord [CONFIG] status -v` / `show [--json]`: the running daemon's live table, from
 * its status socket: every virtual, every real with its health, its weight in the kernel,
 * its last check (time, latency, reason), and the fallback. `--json` prints the daemon's
 * answer as it is (status-protocol.ts StatusAnswer; engine/view.ts for the virtuals).
 */
import { readPidFile } from '../daemon/pidfile';
import { query, socketPath, type StatusAnswer } from '../daemon/status-protocol';
import type { VirtualView } from '../engine/view';
import type { SyncDaemonView } from '../reconcile/sync-daemon';
import { locateConfig } from '../parser/load';
import type { GlobalOptions } from './args';

export async function runShow(config: string, cfgname: string, opts: GlobalOptions): Promise<number> {
  const file = locateConfig(config) ?? config;
  const pid = readPidFile(cfgname);
  let status: StatusAnswer;
  try {
    status = await query(cfgname, 'status');
  } catch (e) {
    // Said in the asked-for form: --json output is JSON in every state.
    if (pid.running === null) {
      if (opts.json) process.stdout.write(JSON.stringify({ running: false, config: file }, null, 2) + '\n');
      else process.stdout.write(`ldirectord is stopped for ${file}\n`);
      return 3;
    }
    const why = `${socketPath(cfgname)} does not answer: ${(e as Error).message}`;
    if (opts.json)
      process.stdout.write(
        JSON.stringify({ running: true, pid: pid.running, config: file, error: why }, null, 2) + '\n',
      );
    else process.stderr.write(`ldirectord for ${file} is running with pid ${pid.running}, but ${why}\n`);
    return 1;
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify({ running: true, ...status }, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(render(status, Date.now()));
  return 0;
}

/** `12s ago`, `5m ago`, `2h ago`, `never`. */
export function ago(iso: string | null, now: number): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

/** A virtual and its reals as an aligned table (status -v, and dry-run's summary). */
export function renderVirtual(v: VirtualView, now: number, note = ''): string[] {
  const policy = [
    v.panic ? 'PANIC: every real kept in service' : '',
    v.quorum
      ? `quorum ${v.quorum.reached ? 'reached' : 'LOST'} (weight up ${v.quorum.weightUp} of quorum ${v.quorum.quorum})`
      : '',
  ].filter(Boolean);
  const out = [
    `${v.id}  (${v.scheduler}${v.inKernel ? '' : ', NOT in the kernel'}${policy.map((p) => ', ' + p).join('')})${note}`,
  ];
  const rows = [['REAL', 'STATE', 'WEIGHT', 'KERNEL', 'CHECKED', 'LATENCY', 'REASON']];
  for (const r of v.reals) {
    rows.push([
      r.real,
      policyState(r, now),
      String(r.weight),
      r.kernelWeight === null ? '-' : String(r.kernelWeight),
      ago(r.lastCheck, now),
      r.lastMs === null ? '-' : `${r.lastMs} ms`,
      r.lastReason ?? '',
    ]);
  }
  const widths = rows[0]!.map((_c, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) {
    out.push(
      '  ' +
        row
          .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
    );
  }
  if (v.fallback) out.push(`  fallback ${v.fallback.server}: ${v.fallback.inKernel ? 'IN (serving)' : 'out'}`);
  return out;
}

export function render(st: StatusAnswer, now: number): string {
  const out: string[] = [];
  out.push(
    `ldirectord for ${st.config}: pid ${st.pid}, running since ${st.started}${st.dryRun ? ' (dry-run)' : ''}, ${st.checks.probes} checks, ${st.checks.inFlight} in flight, ipvsadm ${st.ipvsadm}`,
  );
  const failed = reloadFailure(st);
  if (failed) out.push(failed);
  if (st.reconcile.lastError) out.push(`last ipvsadm error: ${st.reconcile.lastError}`);
  if (st.syncDaemon) out.push(renderSyncDaemon(st.syncDaemon));
  for (const v of st.virtuals) out.push('', ...renderVirtual(v, now));
  return out.join('\n') + '\n';
}

/** `sync daemon: master on eth1 syncid 5 (running), backup … (NOT running); last error: …`. */
function renderSyncDaemon(s: SyncDaemonView): string {
  const parts = s.threads.map(
    (t) => `${t.state} on ${t.interface} syncid ${t.syncid} (${t.running ? 'running' : 'NOT running'})`,
  );
  const text = `sync daemon: ${parts.join(', ') || 'none wanted'}`;
  return s.error ? `${text}; last error: ${s.error}` : text;
}

/** "last reload failed at T: <error>" while the last reload is a failed one, else null. */
export function reloadFailure(st: Pick<StatusAnswer, 'reloads'>): string | null {
  const r = st.reloads;
  if (!r.lastReloadError) return null;
  return `last reload failed at ${r.lastReloadFailedAt ?? '?'}: ${r.lastReloadError} (running the configuration loaded at ${r.lastReloadOkAt})`;
}

/** The state with what the pool policy adds: `draining (until 12:00:05Z)`, `up (slow start, 20s left)`. */
export function policyState(r: VirtualView['reals'][number], now: number): string {
  if (r.drain) return r.drain.phase === 'drained' ? 'drained' : `draining (until ${r.drain.deadline})`;
  if (r.slowStartUntil)
    return `${r.state} (slow start, ${Math.ceil((Date.parse(r.slowStartUntil) - now) / 1000)}s left)`;
  return r.state;
}
