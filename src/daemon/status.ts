/**
 * The live status of the daemon, and the unix socket that serves it (`status -v`, `show`,
 * `--dry-run` when a daemon runs; the protocol is status-protocol.ts). The socket is
 * created mode 0600 (the umask is tightened around listen(), so there is no window), after
 * removing whatever stale entry was at the path without following it. It answers from
 * memory, so it stays responsive while checks hang.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:net';
import { virtualLabel } from '../parser/model';
import { serviceIdOf } from '../reconcile/plan';
import { VERSION } from '../util/version';
import type { Daemon, DaemonPlugin } from './daemon';
import {
  serveStatus,
  socketPath,
  type Answers,
  type Command,
  type Request,
  type StatusAnswer,
} from './status-protocol';

/** The daemon's answer to `status`: itself, and the engine's read model. */
export function statusOf(d: Daemon): StatusAnswer {
  const e = d.engine;
  const st = e.reconciler.stats;
  return {
    pid: process.pid,
    version: VERSION,
    config: d.opts.configFile,
    now: new Date().toISOString(),
    started: new Date(e.startedAt).toISOString(),
    dryRun: d.opts.dryRun,
    ipvsadm: e.reconciler.ipvsName,
    checks: {
      probes: e.probeCount,
      inFlight: e.scheduler.inFlightNow,
      started: e.scheduler.stats.started,
      completed: e.scheduler.stats.completed,
    },
    reconcile: {
      runs: st.reconciles,
      commands: st.commands,
      failures: st.failures,
      lastMs: st.lastMs,
      lastError: st.lastError,
    },
    logfile: d.config.global.logfile,
    reloads: d.stats,
    virtuals: e.view(),
    syncDaemon: e.syncDaemons.view(),
  };
}

/** How long a drain waits for connections to end when the command does not say. */
export const DEFAULT_DRAIN_TIMEOUT_S = 300;

function answer(d: Daemon, req: Request): Answers[Command] {
  switch (req.cmd) {
    case 'drain':
    case 'undrain': {
      const real = req.real ?? '';
      const timeout = req.timeout ?? DEFAULT_DRAIN_TIMEOUT_S;
      if (!real || real.length > 200) return { changed: [], error: 'no real server named' };
      if (!(Number.isInteger(timeout) && timeout >= 0 && timeout <= 86_400 * 7))
        return { changed: [], error: `invalid timeout ${timeout}` };
      const virtual = req.virtual ?? null;
      const changed = req.cmd === 'drain' ? d.engine.drain(real, virtual, timeout) : d.engine.undrain(real, virtual);
      return { changed };
    }
    case 'status':
      return statusOf(d);
    case 'managed':
      return {
        config: d.opts.configFile,
        services: d.config.virtuals.map((v) => ({
          svc: serviceIdOf(v),
          label: virtualLabel(v),
          why: 'start' as const,
        })),
      };
    case 'ping':
      return { ok: true };
  }
}

export class StatusSocket implements DaemonPlugin {
  private server: Server | null = null;
  private path = '';

  start(d: Daemon): Promise<void> {
    this.path = socketPath(d.opts.cfgname);
    removeStale(this.path);
    const server = (this.server = serveStatus(
      (req) => answer(d, req),
      (json) => d.redactor.redact(json),
    ));
    server.unref();
    return new Promise((resolve) => {
      const old = process.umask(0o177);
      server.once('error', (e) => {
        process.umask(old);
        d.log.error(`status socket ${this.path}: ${e.message}`);
        resolve();
      });
      server.listen(this.path, () => {
        process.umask(old);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    removeStale(this.path);
  }
}

/** Remove what is at `path` (a stale socket, or a symlink planted there) without following it. */
function removeStale(path: string): void {
  try {
    const st = lstatSync(path);
    if (st.isSocket() || st.isSymbolicLink() || st.isFile()) unlinkSync(path);
  } catch {
    // nothing there
  }
}
