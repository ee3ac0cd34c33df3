/**
 * The engine: config + checks → health → plan → kernel, level-triggered.
 *
 * Everything that changes the table goes through reconcile(): a health transition, a
 * reload, the periodic resync and stop all recompute the desired table and apply the
 * difference; no code path "adds a real server" directly. Reconciles are serialised and
 * coalesced: any number of transitions arriving while one runs lead to one more run.
 *
 * I/O is injected (clock, ipvsadm, check runner, logger), so the same engine runs in the
 * daemon, in dry-run, and in the unit tests with fake time and a fake kernel.
 */
import type { CheckResult } from '../checks/kernel';
import type { ProbeSpec } from '../checks/registry';
import { hostPort, protocolOf, virtualLabel, type Config, type RealServer, type VirtualService } from '../parser/model';
import { plan, planVirtual, serviceIdOf, kernelDestKey, type Desired, type DesiredService } from '../reconcile/plan';
import type { Retired } from '../reconcile/diff';
import type { IpvsAdapter } from '../reconcile/ipvsadm';
import { Reconciler, type ReconcileReport } from '../reconcile/reconciler';
import type { Table } from '../reconcile/table';
import type { Clock } from '../schedule/clock';
import { Health, type MemberHealth, type Transition } from '../schedule/health';
import { Maintenance } from '../schedule/maintenance';
import { buildProbes, type ProbeDef, type ProbePlan } from '../schedule/probes';
import { opMessage } from '../reconcile/ops';
import { Scheduler } from '../schedule/scheduler';
import type { Op } from '../reconcile/diff';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  debug(msg: string): void;
}

/** What the engine tells the operator tools (monitorfile, e-mail, metrics, status). */
export type EngineEvent =
  | { type: 'check'; probe: ProbeDef; result: CheckResult; forced: boolean }
  | { type: 'transition'; t: Transition }
  | { type: 'applied'; op: Op; message: string }
  /** At stop: a real taken out with its whole service (one -D, no op of its own), logged `Purged real server (stop): …`. */
  | { type: 'purged'; v: VirtualService; r: RealServer; message: string }
  | { type: 'reconcile'; report: ReconcileReport; ms: number }
  | { type: 'fallbackcommand'; v: VirtualService; status: 'start' | 'stop' };

export interface EngineDeps {
  clock: Clock;
  ipvs: IpvsAdapter;
  log: Logger;
  runProbe: (spec: ProbeSpec, signal: AbortSignal) => Promise<CheckResult>;
  /** Free what a check kept for a probe that is gone (a kept HTTP connection). */
  releaseProbe?: (spec: ProbeSpec) => void;
  maxInFlight: number;
  onEvent?: (e: EngineEvent) => void;
  /** Run fallbackcommand (`<cmd> start|stop <vserver>:<vport> <protocol>`). */
  runFallbackCommand?: (command: string, args: string[]) => void;
  jitter?: number;
  random?: () => number;
  /** Reverse DNS for maintenance files named by host (tests give their own). */
  reverseName?: (address: string) => Promise<string | null>;
}

/**
 * Least time between the starts of two reconciles caused by health transitions. Small
 * beside a check interval (seconds), the most it adds to applying a failure; long enough
 * that the failures of one burst share a batch.
 */
export const BURST_SPACING_MS = 100;

export class Engine {
  config: Config | null = null;
  readonly health = new Health();
  readonly reconciler: Reconciler;
  readonly scheduler: Scheduler;
  private probes: ProbePlan = { probes: new Map(), members: new Map() };
  private maintenance = new Maintenance(null);
  /** Services a reload removed, to delete from the kernel (Perl: Purged virtual server). */
  private retire: Retired[] = [];
  /** Virtuals whose health changed since the last reconcile. */
  private dirty = new Set<string>();
  private full = false;
  private running: Promise<void> | null = null;
  private again = false;
  private resyncTimer: unknown = null;
  private reconcileTimer: unknown = null;
  /** When the last transition-caused reconcile started (see requestReconcile). */
  private lastTransitionRun = -Infinity;
  private stopped = false;
  /** Last fallbackcommand status per virtual (runs on change only, as Perl). */
  private fallbackStatus = new Map<string, 'start' | 'stop'>();
  /**
   * The planner's output per virtual, reused until the virtual's health changes (a
   * transition), one of its members is first placed, or the config is replaced (new
   * objects, so old entries can never be hit). The periodic resync then costs one table
   * read and one diff, not a re-plan of every real.
   */
  private planned = new Map<VirtualService, DesiredService>();
  /** Members not yet seen in the kernel since the last start or reload (see markPlaced). */
  private unplaced = new Set<MemberHealth>();
  /**
   * Bumped whenever the plan may have changed (a health transition, an install, a member
   * first placed); convergedVersion is the version the last complete reconcile with
   * nothing outstanding planned. Equal: a resync may skip the diff (reconciler.ts).
   */
  private planVersion = 0;
  private convergedVersion = -1;
  readonly startedAt: number;

  constructor(private readonly deps: EngineDeps) {
    this.startedAt = deps.clock.now();
    this.reconciler = new Reconciler(deps.ipvs, {
      info: (m) => deps.log.info(m),
      error: (m) => deps.log.error(m),
    });
    this.scheduler = new Scheduler({
      clock: deps.clock,
      run: deps.runProbe,
      release: deps.releaseProbe,
      onResult: (p, r, f) => this.onResult(p, r, f),
      inMaintenance: (p) => this.maintenance.has(p.address, p.port),
      maxInFlight: deps.maxInFlight,
      jitter: deps.jitter,
      random: deps.random,
    });
  }

  /** Start managing: adopt the kernel table, start the checks, apply the first plan. */
  async start(cfg: Config): Promise<void> {
    let table: Table = new Map();
    try {
      table = await this.reconciler.refresh(true);
    } catch (e) {
      this.deps.log.error(`cannot read the IPVS table: ${(e as Error).message} (will retry)`);
    }
    await this.install(cfg, table);
    await this.reconcile({ full: true, context: 'start' });
    this.armResync();
  }

  /** Adopt a new config (already parsed and valid). Unchanged checks keep state and timers. */
  /**
   * Adopt a new config (already parsed and valid). Virtuals carried over unchanged (the
   * same objects, parser/carry-over.ts) keep their checks, health and plan, and were
   * reconciled already: the reload reconciles what changed and what was removed, and the
   * periodic resync goes on covering everything.
   */
  async reload(cfg: Config): Promise<void> {
    const old = this.config;
    if (old) this.retire.push(...diffRetire(old, cfg));
    const before = new Set(old?.virtuals);
    const everything = !old || old.global.readdquiescent !== cfg.global.readdquiescent;
    for (const v of cfg.virtuals) if (everything || !before.has(v)) this.dirty.add(v.id);
    // The new plan is computed and applied before new checks start (see Scheduler.hold).
    this.scheduler.hold();
    try {
      await this.install(cfg, this.reconciler.snapshot ?? new Map(), everything);
      await this.reconcile({ full: everything, context: 'start' });
    } finally {
      this.scheduler.release();
    }
    this.armResync();
  }

  private async install(cfg: Config, table: Table, replan = true): Promise<void> {
    // Maintenance is known before the first check, as Perl looked before every check: a
    // real in maintenance at start is never added and then removed.
    const maintenance = new Maintenance(cfg.global.maintenancedir, this.deps.reverseName, () => this.deps.clock.now());
    await maintenance.prepare(cfg.virtuals.flatMap((v) => v.reals.map((r) => r.address)));
    this.config = cfg;
    this.maintenance = maintenance;
    this.probes = buildProbes(cfg);
    const now = this.deps.clock.now();
    // Adopt: a real the kernel already serves at a positive weight is up until its first
    // check says otherwise; anything else waits for its first check (nothing flaps).
    this.health.sync(
      this.probes,
      (m, probe) => {
        const svc = table.get(serviceIdOf(m.v).key);
        const dest = svc?.dests.get(kernelDestKey(m.v, m.r.address, m.r.port, m.r.forward));
        if (dest && dest.weight > 0) return 'up';
        return probe === null ? 'down' : 'pending';
      },
      now,
    );
    this.planVersion++;
    // Cached plans stay for the virtuals carried over unchanged (the same objects).
    if (replan) this.planned.clear();
    else {
      const now = new Set(cfg.virtuals);
      for (const v of [...this.planned.keys()]) if (!now.has(v)) this.planned.delete(v);
    }
    this.unplaced = new Set([...this.health.members.values()].filter((m) => !m.placed));
    // Rebuild the per-virtual fallbackcommand memory for the virtuals that remain.
    for (const k of [...this.fallbackStatus.keys()])
      if (!cfg.virtuals.some((v) => v.id === k)) this.fallbackStatus.delete(k);
    this.scheduler.setProbes(this.probes.probes, (key) =>
      this.health.membersOf(key).some((m) => m.state !== 'pending'),
    );
  }

  private onResult(probe: ProbeDef, result: CheckResult, forced: boolean): void {
    if (this.stopped) return;
    this.deps.onEvent?.({ type: 'check', probe, result, forced });
    const transitions = this.health.record(probe.key, result, this.deps.clock.now(), forced);
    for (const t of transitions) {
      this.logTransition(t);
      this.deps.onEvent?.({ type: 'transition', t });
      if (t.kind === 'up' || t.kind === 'down') this.dirty.add(t.member.member.v.id);
    }
    if (this.dirty.size) this.requestReconcile();
  }

  private logTransition(t: Transition): void {
    const m = t.member.member;
    const real = hostPort(m.r.address, m.r.port);
    const log = this.deps.log;
    switch (t.kind) {
      case 'soft':
        // Perl's line exactly (scripts anchor on it), then why, on a line of its own.
        log.info(`Soft failure real server: ${real} (${m.v.id}) failure ${t.failures}/${m.v.failurecount}`);
        log.info(`Check failed: ${real} (${m.v.id}): ${t.result.reason}`);
        break;
      case 'reset':
        log.info(`Resetting soft failure count: ${real} (${m.v.id})`);
        break;
      case 'up':
        if (t.failures > 0) log.info(`Resetting soft failure count: ${real} (${m.v.id})`);
        log.info(`Real server up: ${real} (${m.v.id}): ${t.result.reason}`);
        break;
      case 'down':
        log.info(`Real server down: ${real} (${m.v.id}): ${t.result.reason}`);
        break;
    }
  }

  /**
   * Ask for a reconcile of the dirty virtuals soon (coalescing a burst of transitions).
   * The first transition after a quiet spell is applied at once; while transitions keep
   * coming (a switch dies and its reals are detected one by one over a check interval)
   * the runs they cause start at most every BURST_SPACING_MS, so a burst of 1,000 failures
   * is a handful of `ipvsadm -R` batches rather than one per reconcile the kernel allows.
   */
  private requestReconcile(): void {
    if (this.reconcileTimer !== null || this.stopped) return;
    const wait = Math.max(0, this.lastTransitionRun + BURST_SPACING_MS - this.deps.clock.now());
    this.reconcileTimer = this.deps.clock.setTimeout(() => {
      this.reconcileTimer = null;
      this.lastTransitionRun = this.deps.clock.now();
      void this.reconcile({ context: 'run' });
    }, wait);
  }

  /** Periodic resync: re-read the kernel and repair drift (hand edits). */
  private armResync(): void {
    if (this.resyncTimer !== null) this.deps.clock.clearTimeout(this.resyncTimer);
    const ms = (this.config?.global.checkinterval ?? 10) * 1000;
    this.resyncTimer = this.deps.clock.setTimeout(() => {
      this.resyncTimer = null;
      if (this.stopped) return;
      void this.maintenance.refresh();
      void this.reconcile({ full: true, fresh: true, context: 'run' }).then(() => this.armResync());
    }, ms);
  }

  /**
   * Reconcile now, serialised: a call while one runs makes it run once more afterwards,
   * with everything that became dirty in the meantime.
   */
  async reconcile(opts: { full?: boolean; fresh?: boolean; context: 'run' | 'start' | 'stop' }): Promise<void> {
    if (opts.full) this.full = true;
    if (this.running) {
      this.again = true;
      this.pendingFresh ||= Boolean(opts.fresh);
      return this.running;
    }
    this.running = (async () => {
      let fresh = Boolean(opts.fresh);
      let context = opts.context;
      do {
        this.again = false;
        fresh ||= this.pendingFresh;
        this.pendingFresh = false;
        await this.reconcileOnce(fresh, context);
        fresh = false;
        context = 'run';
      } while (this.again && !this.stopped);
    })();
    try {
      await this.running;
    } finally {
      this.running = null;
    }
  }

  private pendingFresh = false;

  private async reconcileOnce(fresh: boolean, context: 'run' | 'start' | 'stop'): Promise<void> {
    const cfg = this.config;
    if (!cfg) return;
    const t0 = this.deps.clock.now();
    const full = this.full;
    const dirty = this.dirty;
    this.full = false;
    this.dirty = new Set();
    const virtuals = full ? cfg.virtuals : cfg.virtuals.filter((v) => dirty.has(v.id));
    if (dirty.size) this.planVersion++;
    const version = this.planVersion;
    const desired = this.plan(cfg, virtuals, dirty);
    const retire = this.retire;
    const report = await this.reconciler.reconcile(desired, retire, {
      fresh,
      context,
      complete: full,
      unchanged: full && version === this.convergedVersion,
    });
    if (full && !report.failed.length && report.readError === null) this.convergedVersion = version;
    if (report.readError === null) {
      // Retired services that are gone from the kernel are done with.
      const table = this.reconciler.snapshot;
      this.retire = retire.filter((r) => table?.has(r.svc.key));
    }
    for (const op of report.applied) this.deps.onEvent?.({ type: 'applied', op, message: opMessage(op, context) });
    this.markPlaced(virtuals);
    this.fallbackCommands(virtuals);
    this.deps.onEvent?.({ type: 'reconcile', report, ms: this.deps.clock.now() - t0 });
    if (report.failed.length || report.readError) {
      // Try those virtuals again at the next resync (they stay dirty).
      for (const v of virtuals) this.dirty.add(v.id);
    }
  }

  /** plan(), from the cache for virtuals whose health has not changed (see `planned`). */
  private plan(cfg: Config, virtuals: readonly VirtualService[], dirty: ReadonlySet<string>): Desired {
    const view = this.health.view();
    const opts = { readdquiescent: cfg.global.readdquiescent };
    const desired: Desired = new Map();
    for (const v of virtuals) {
      let s = dirty.has(v.id) ? undefined : this.planned.get(v);
      if (!s) this.planned.set(v, (s = planVirtual(v, view, opts)));
      // Two config virtuals naming one kernel service (e.g. ports 80 and 080): the first wins.
      if (!desired.has(s.key)) desired.set(s.key, s);
    }
    return desired;
  }

  /**
   * A member is placed once the kernel holds its destination (see plan.ts, readdquiescent);
   * that changes how it is planned while down, so its virtual is planned afresh.
   */
  private markPlaced(virtuals: readonly VirtualService[]): void {
    const table = this.reconciler.snapshot;
    if (!table || !this.unplaced.size) return;
    const looked = virtuals.length === this.config?.virtuals.length ? null : new Set(virtuals);
    for (const mh of this.unplaced) {
      const { v, r } = mh.member;
      if (mh.state === 'pending' || (looked && !looked.has(v))) continue;
      if (table.get(serviceIdOf(v).key)?.dests.has(kernelDestKey(v, r.address, r.port, r.forward))) {
        mh.placed = true;
        this.unplaced.delete(mh);
        this.planned.delete(v);
        this.planVersion++;
      }
    }
  }

  /**
   * fallbackcommand: `start` when a virtual has no real up, `stop` when it has one again;
   * run on change only, and only once no real of the virtual is still unchecked.
   */
  private fallbackCommands(virtuals: readonly VirtualService[]): void {
    const view = this.health.view();
    for (const v of virtuals) {
      if (!v.fallbackcommand) continue;
      const states = v.reals.map((_r, i) => view(v, i).state);
      if (states.includes('pending')) continue;
      const status = states.includes('up') ? 'stop' : 'start';
      if (this.fallbackStatus.get(v.id) === status) continue;
      this.fallbackStatus.set(v.id, status);
      // W-5 fixed: a fwmark virtual is named by its mark (Perl passed ":0").
      const vserver = labelOf(v);
      this.deps.onEvent?.({ type: 'fallbackcommand', v, status });
      this.deps.runFallbackCommand?.(v.fallbackcommand, [status, vserver, protocolOf(v)]);
    }
  }

  /**
   * Stop: cancel the checks (aborting any in flight), then take the services whose
   * cleanstop is yes out of the kernel; with cleanstop=no the table is left as it is.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.scheduler.stop();
    if (this.resyncTimer !== null) this.deps.clock.clearTimeout(this.resyncTimer);
    if (this.reconcileTimer !== null) this.deps.clock.clearTimeout(this.reconcileTimer);
    if (this.running) await this.running.catch(() => undefined);
    const cfg = this.config;
    if (!cfg) return;
    // A reconcile that was running may have applied a plan older than the last check
    // results, and the one that would follow is skipped once stopped: bring the services
    // that stay in the kernel (cleanstop=no) up to date before leaving them.
    const kept = cfg.virtuals.filter((v) => !v.cleanstop);
    if (kept.length && (this.again || this.dirty.size)) {
      const desired = plan(kept, this.health.view(), { readdquiescent: cfg.global.readdquiescent });
      await this.reconciler.reconcile(desired, [], { fresh: true, context: 'run' });
    }
    const clean = cfg.virtuals.filter((v) => v.cleanstop);
    if (!clean.length) return;
    const view = this.health.view();
    for (const v of clean) {
      const label = labelOf(v);
      v.reals.forEach((r, i) => {
        if (view(v, i).state !== 'up') return;
        const message = `Purged real server (stop): ${hostPort(r.address, r.port)} (${label})`;
        this.deps.log.info(message);
        this.deps.onEvent?.({ type: 'purged', v, r, message });
      });
    }
    const retire: Retired[] = clean.map((v) => ({ svc: serviceIdOf(v), label: labelOf(v), why: 'stop' }));
    // Only the retired services are touched: cleanstop=no services stay exactly as they are.
    await this.reconciler.reconcile(new Map(), retire, { fresh: true, context: 'stop' });
  }

  get probeCount(): number {
    return this.probes.probes.size;
  }
}

/** Perl get_virtual: `10.0.0.1:80`, `[2001:db8::1]:80`, or the fwmark. */
export function labelOf(v: VirtualService): string {
  return virtualLabel(v);
}

/** Services of the old config that the new one no longer has (Perl @OLDVIRTUAL purge). */
export function diffRetire(oldCfg: Config, newCfg: Config): Retired[] {
  const keep = new Set(newCfg.virtuals.map((v) => serviceIdOf(v).key));
  return oldCfg.virtuals
    .filter((v) => !keep.has(serviceIdOf(v).key))
    .map((v) => ({ svc: serviceIdOf(v), label: labelOf(v), why: 'start' as const }));
}
