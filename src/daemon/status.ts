/**
 * The live status of the daemon, and the unix socket that serves it (`status -v`, `show`,
 * `--dry-run` when a daemon runs). The socket is created mode 0600 (the umask is tightened
 * around listen(), so there is no window), after removing whatever stale entry was at the
 * path without following it. It answers from memory, so it stays responsive while checks
 * hang.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { hostPort } from '../parser/model';
import type { Retired } from '../reconcile/diff';
import { kernelDestKey, serviceIdOf } from '../reconcile/plan';
import { memberKey } from '../schedule/probes';
import type { Daemon, DaemonPlugin } from './daemon';
import { labelOf } from './engine';
import { socketPath } from './status-client';

export interface RealStatus {
  real: string;
  state: 'up' | 'down' | 'pending';
  weight: number;
  kernelWeight: number | null;
  lastCheck: string | null;
  lastMs: number | null;
  lastReason: string | null;
  failures: number;
  since: string;
  inMaintenance: boolean;
}

export interface VirtualStatus {
  id: string;
  service: string;
  inKernel: boolean;
  scheduler: string;
  quiescent: boolean;
  reals: RealStatus[];
  fallback: { server: string; inKernel: boolean; kernelWeight: number | null } | null;
}

export function statusOf(d: Daemon): object {
  const e = d.engine;
  const cfg = d.config;
  const table = e.reconciler.snapshot;
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  const virtuals: VirtualStatus[] = cfg.virtuals.map((v) => {
    const svc = table?.get(serviceIdOf(v).key);
    const reals: RealStatus[] = v.reals.map((r) => {
      const mh = e.health.members.get(memberKey(v, r));
      const p = mh?.probe ? e.health.probes.get(mh.probe) : undefined;
      const dest = svc?.dests.get(kernelDestKey(v, r.address, r.port, r.forward));
      return {
        real: hostPort(r.address, r.port),
        state: mh?.state ?? 'pending',
        weight: r.weight,
        kernelWeight: dest ? dest.weight : null,
        lastCheck: iso(p?.lastAt ?? null),
        lastMs: p?.last?.ms ?? null,
        lastReason: p?.last?.reason ?? (v.checktype === 'off' ? 'checktype off' : null),
        failures: p?.failures ?? 0,
        since: new Date(mh?.since ?? e.startedAt).toISOString(),
        inMaintenance: p?.last?.reason === 'Server in maintenance',
      };
    });
    let fallback: VirtualStatus['fallback'] = null;
    if (v.fallback) {
      const dest = svc?.dests.get(kernelDestKey(v, v.fallback.address, v.fallback.port, v.fallback.forward));
      fallback = {
        server: hostPort(v.fallback.address, v.fallback.port),
        inKernel: Boolean(dest),
        kernelWeight: dest?.weight ?? null,
      };
    }
    return {
      id: v.id,
      service: labelOf(v),
      inKernel: Boolean(svc),
      scheduler: v.scheduler,
      quiescent: v.quiescent,
      reals,
      fallback,
    };
  });
  const st = e.reconciler.stats;
  return {
    pid: process.pid,
    config: d.opts.configFile,
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
    reloads: d.stats,
    virtuals,
  };
}

/** The services this daemon manages (for a dry-run of another config). */
export function managedOf(d: Daemon): { services: Retired[] } {
  return {
    services: d.config.virtuals.map((v) => ({ svc: serviceIdOf(v), label: labelOf(v), why: 'start' as const })),
  };
}

export class StatusSocket implements DaemonPlugin {
  private server: Server | null = null;
  private path = '';

  start(d: Daemon): Promise<void> {
    this.path = socketPath(d.opts.cfgname);
    removeStale(this.path);
    this.server = createServer((sock) => {
      let buf = '';
      sock.setTimeout(5000, () => sock.destroy());
      sock.on('error', () => undefined);
      sock.on('data', (b) => {
        buf += b.toString('utf8');
        if (buf.length > 4096) {
          sock.destroy();
          return;
        }
        if (!buf.includes('\n')) return;
        let cmd = '';
        try {
          cmd = String((JSON.parse(buf.split('\n')[0]!) as { cmd?: unknown }).cmd ?? '');
        } catch {
          // answered below
        }
        const answer =
          cmd === 'status'
            ? statusOf(d)
            : cmd === 'managed'
              ? managedOf(d)
              : cmd === 'ping'
                ? { ok: true }
                : { error: `unknown request ${JSON.stringify(cmd)}` };
        sock.end(d.redactor.redact(JSON.stringify(answer)) + '\n');
      });
    });
    this.server.unref();
    return new Promise((resolve) => {
      const old = process.umask(0o177);
      this.server!.once('error', (e) => {
        process.umask(old);
        d.log.error(`status socket ${this.path}: ${(e as Error).message}`);
        resolve();
      });
      this.server!.listen(this.path, () => {
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
