/**
 * The engine: config + checks → health → plan → kernel, level-triggered.
 *
 * Everything that changes the table goes through one reconcile: a health transition, a
 * reload, the periodic resync and stop all recompute the desired table and apply the
 * difference; no code path "adds a real server" directly. When reconciles run is the
 * bounded-frequency runner's business (schedule/runner.ts): serialised, coalesced, spaced
 * by BURST_SPACING_MS in a burst, at least once per checkinterval (the resync), retried
 * with back-off when ipvsadm fails.
 *
 * I/O is injected (clock, ipvsadm, check runner, logger), so the same engine runs in the
 * daemon, in dry-run (with an ipvsadm that writes nothing), and in the unit tests with
 * fake time and a fake kernel.
 */
import type { CheckResult } from '../checks/kernel';
import type { ProbeSpec } from '../checks/registry';
import { hostPort, protocolOf, virtualLabel, type Config, type VirtualService } from '../parser/model';
import type { Retired } from '../reconcile/diff';
import type { IpvsAdapter } from '../reconcile/ipvsadm';
import { opMessage, type OpContext } from '../reconcile/ops';
import { plan, planVirtual, serviceIdOf, kernelDestKey, type Desired, type DesiredService } from '../reconcile/plan';
import type { Drain, PolicyState } from '../reconcile/policy';
import { Reconciler } from '../reconcile/reconciler';
import { SyncDaemons } from '../reconcile/sync-daemon';
import type { Table } from '../reconcile/table';
import type { Clock } from '../schedule/clock';
import { Health, type MemberHealth, type Transition } from '../schedule/health';
import { Maintenance } from '../schedule/maintenance';
import { buildProbes, memberKey, type ProbeDef, type ProbePlan } from '../schedule/probes';
import { BoundedRunner, type RunReason } from '../schedule/runner';
import { Scheduler } from '../schedule/scheduler';
import type { Logger } from '../util/log';
import type { ConfigCommand, EngineEvent } from './events';
import { viewOf, type VirtualView } from './view';

export type { EngineEvent } from './events';

export interface EngineDeps {
  clock: Clock;
  ipvs: IpvsAdapter;
  log: Logger;
  runProbe: (spec: ProbeSpec, signal: AbortSignal) => Promise<CheckResult>;
  /** Free what a check kept for a probe that is gone (a kept HTTP connection). */
  releaseProbe?: (spec: ProbeSpec) => void;
  maxInFlight: number;
  onEvent?: (e: EngineEvent) => void;
  /**
   * Run a command the config names: fallbackcommand (`<cmd> start|stop <vserver>:<vport>
   * <protocol>`), quorumup and quorumdown (`<cmd> <virtual> <protocol> <weight> <quorum>`).
   */
  runConfigCommand?: (directive: ConfigCommand, command: string, args: string[]) => void;
  /** Active connections per `<serviceKey>|<destKey>` (proc-ip-vs.ts); null: unknown. */
  activeConnections?: () => ReadonlyMap<string, number> | null;
  jitter?: number;
  random?: () => number;
  /** Reverse DNS for maintenance files named by host (tests give their own). */
  reverseName?: (address: string) => Promise<string | null>;
  /** Check every real at once at start, adopted ones too (dry-run: one round of every check). */
  checkAllAtStart?: boolean;
}

/**
 * Least time between the starts of two reconciles. Small beside a check interval
 * (seconds), the most it adds to applying a failure; long enough that the failures of one
 * burst share a batch. The first reconcile after a quiet spell runs at once.
 */
export const BURST_SPACING_MS = 100;

export class Engine {
  config: Config | null = null;
  readonly health = new Health();
  readonly reconciler: Reconciler;
  readonly scheduler: Scheduler;
  /** The kernel's connection sync threads (syncdaemon=, an addition). */
  readonly syncDaemons: SyncDaemons;
  private readonly runner: BoundedRunner;
  private probes: ProbePlan = { probes: new Map(), members: new Map() };
  private maintenance = new Maintenance(null);
  /** Services a reload removed, to delete from the kernel (Perl: Purged virtual server). */
  private retire: Retired[] = [];
  /** Virtuals whose health changed since the last reconcile. */
  private dirty = new Set<string>();
  /** The next reconcile covers every virtual (a resync, a start, a reload of everything). */
  private full = false;
  /** The next reconcile reads the table afresh. */
  private fresh = false;
  /** What the next reconcile is part of (its log lines say "start" or not). */
  private context: OpContext = 'run';
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
  /** A timer for the earliest slow-start step of a planned virtual (see replanAt in plan.ts). */
  private replanTimer: { at: number; handle: unknown } | null = null;
  /** Per virtual id: in panic (policy.ts), and whether its quorum is reached (true until lost). */
  private panicking = new Set<string>();
  private quorate = new Map<string, boolean>();
  /** Operators' drains by member key (policy.ts), as the daemon's state file keeps them. */
  private drains = new Map<string, Drain>();
  /** Slow starts read from the state file, given to their members at the first install. */
  private restoredRamps = new Map<string, number>();
  readonly startedAt: number;

  constructor(private readonly deps: EngineDeps) {
    this.startedAt = deps.clock.now();
    this.reconciler = new Reconciler(deps.ipvs, deps.log);
    this.syncDaemons = new SyncDaemons(deps.ipvs, deps.log);
    this.scheduler = new Scheduler({
      clock: deps.clock,
      run: deps.runProbe,
      release: deps.releaseProbe,
      onResult: (p, r, f) => this.onResult(p, r, f),
      inMaintenance: (p) => this.maintenance.has(p.address, p.port),
      periodOf: (p) => this.periodOf(p),
      maxInFlight: deps.maxInFlight,
      jitter: deps.jitter,
      random: deps.random,
    });
    this.runner = new BoundedRunner({
      clock: deps.clock,
      run: (why) => this.reconcileOnce(why),
      minGapMs: BURST_SPACING_MS,
      periodMs: () => (this.config?.global.checkinterval ?? 10) * 1000,
    });
  }

  /**
   * Start managing: adopt the kernel table, start the checks, apply the first plan.
   * `retire`: services to take out that this config does not name (a dry-run of a
   * candidate against the services a running daemon manages).
   */
  async start(cfg: Config, retire: Retired[] = []): Promise<void> {
    let table: Table = new Map();
    try {
      table = await this.reconciler.refresh(true);
    } catch (e) {
      this.deps.log.error(`cannot read the IPVS table: ${(e as Error).message} (will retry)`);
    }
    const keep = new Set(cfg.virtuals.map((v) => serviceIdOf(v).key));
    this.retire.push(...retire.filter((r) => !keep.has(r.svc.key)));
    await this.install(cfg, table);
    this.full = true;
    this.context = 'start';
    await this.runner.runNow();
    // After the table: a peer's connection stream never delays the first reconcile.
    await this.syncDaemons.apply(cfg.global.syncdaemon);
    this.runner.start();
  }

  /**
   * Reload: `load` reads and parses the new file while no new check starts (a reload of
   * 10,000 reals should not share the CPU with the checks that fall due meanwhile; see
   * Scheduler.hold). It throws to keep the running config, untouched. Virtuals carried
   * over unchanged (the same objects, parser/carry-over.ts) keep their checks, health and
   * plan: the reload reconciles what changed and what was removed.
   */
  async reload(load: () => Promise<Config>): Promise<void> {
    this.scheduler.hold();
    try {
      const cfg = await load();
      const old = this.config;
      if (old) this.retire.push(...diffRetire(old, cfg));
      const before = new Set(old?.virtuals);
      const everything = !old || old.global.readdquiescent !== cfg.global.readdquiescent;
      for (const v of cfg.virtuals) if (everything || !before.has(v)) this.dirty.add(v.id);
      await this.install(cfg, this.reconciler.snapshot ?? new Map(), everything, true);
      this.full ||= everything;
      this.context = 'start';
      // The new plan is computed and applied before new checks start.
      await this.runner.runNow();
      await this.syncDaemons.apply(cfg.global.syncdaemon);
    } finally {
      this.scheduler.release();
    }
  }

  private async install(cfg: Config, table: Table, replan = true, reload = false): Promise<void> {
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
    this.adoptPolicy();
    this.planVersion++;
    // Cached plans stay for the virtuals carried over unchanged (the same objects).
    if (replan) this.planned.clear();
    else {
      const current = new Set(cfg.virtuals);
      for (const v of [...this.planned.keys()]) if (!current.has(v)) this.planned.delete(v);
    }
    if (reload) {
      // A reload places every real afresh, as the original's does (it discards all state):
      // a quiescent real that is down and absent (removed by hand, or out while its
      // virtual was quiescent=no) is put back at weight 0.
      for (const mh of this.health.members.values()) {
        if (!mh.placed) continue;
        mh.placed = false;
        if (mh.state === 'down' && mh.member.v.quiescent) {
          this.dirty.add(mh.member.v.id);
          this.planned.delete(mh.member.v);
        }
      }
    }
    this.unplaced = new Set([...this.health.members.values()].filter((m) => !m.placed));
    // Rebuild the per-virtual fallbackcommand memory for the virtuals that remain.
    const ids = new Set(cfg.virtuals.map((v) => v.id));
    for (const k of [...this.fallbackStatus.keys()]) if (!ids.has(k)) this.fallbackStatus.delete(k);
    const known = (key: string) =>
      !this.deps.checkAllAtStart && this.health.membersOf(key).some((m) => m.state !== 'pending');
    this.scheduler.setProbes(this.probes.probes, known);
  }

  private onResult(probe: ProbeDef, result: CheckResult, forced: boolean): void {
    if (this.stopped) return;
    this.deps.onEvent?.({ type: 'check', probe, result, forced });
    const transitions = this.health.record(probe.key, result, this.deps.clock.now(), forced);
    for (const t of transitions) {
      this.logTransition(t);
      this.deps.onEvent?.({ type: 'transition', t });
      if (t.kind === 'up' || t.kind === 'down') this.dirty.add(t.member.member.v.id);
      // A slow start began: the state file keeps it, so a restart resumes it.
      if (t.kind === 'up' && t.member.rampFrom !== null && t.member.member.v.slowstart > 0) {
        this.deps.onEvent?.({ type: 'policy' });
      }
    }
    if (this.dirty.size) void this.runner.request();
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
      case 'rise':
        log.info(`Real server rising: ${real} (${m.v.id}) success ${t.successes}/${m.v.successcount}`);
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
   * The daemon's state file, read at start (before start()): drains, and slow starts under
   * way, so a restart (or a SIGKILL) changes neither.
   */
  restorePolicy(state: PolicyState): void {
    this.drains = new Map(Object.entries(state.drains));
    this.restoredRamps = new Map(Object.entries(state.ramps));
  }

  /** What the state file keeps now (the daemon writes it on every 'policy' event). */
  policyState(): PolicyState {
    const now = this.deps.clock.now();
    const ramps: Record<string, number> = {};
    for (const mh of this.health.members.values()) {
      const v = mh.member.v;
      if (mh.rampFrom !== null && v.slowstart > 0 && now < mh.rampFrom + v.slowstart * 1000)
        ramps[mh.key] = mh.rampFrom;
    }
    return { drains: Object.fromEntries(this.drains), ramps };
  }

  /** Restored ramps go to their members; drains of reals the config no longer has are dropped. */
  private adoptPolicy(): void {
    for (const [key, from] of this.restoredRamps) {
      const mh = this.health.members.get(key);
      if (mh && mh.rampFrom === null) mh.rampFrom = from;
    }
    this.restoredRamps.clear();
    let dropped = false;
    for (const key of [...this.drains.keys()]) {
      if (this.health.members.has(key)) continue;
      this.drains.delete(key);
      dropped = true;
    }
    if (dropped) this.deps.onEvent?.({ type: 'policy' });
  }

  /**
   * `drain REAL [--virtual V] [--timeout S]`: each matching real goes to weight 0 at once
   * and out when its connections end or the deadline passes (policy.ts). Returns the
   * member keys drained (none: nothing matched).
   */
  drain(real: string, virtual: string | null, timeoutS: number): string[] {
    const now = this.deps.clock.now();
    const keys = this.match(real, virtual);
    for (const key of keys) {
      const old = this.drains.get(key);
      this.drains.set(key, old ?? { since: now, deadline: now + timeoutS * 1000, phase: 'draining' });
      this.deps.log.info(`Draining real server: ${key.replace('|', ' ')} (at most ${timeoutS} s)`);
    }
    this.policyChanged(keys);
    return keys;
  }

  /** `undrain`: the reals go back to what their checks say. */
  undrain(real: string, virtual: string | null): string[] {
    const keys = this.match(real, virtual).filter((k) => this.drains.delete(k));
    for (const key of keys) this.deps.log.info(`Undrained real server: ${key.replace('|', ' ')}`);
    this.policyChanged(keys);
    return keys;
  }

  /** Drains per member key, for the read model. */
  get drainsNow(): ReadonlyMap<string, Drain> {
    return this.drains;
  }

  private policyChanged(keys: readonly string[]): void {
    if (!keys.length) return;
    for (const key of keys) this.dirty.add(key.slice(0, key.indexOf('|')));
    this.deps.onEvent?.({ type: 'policy' });
    void this.runner.request();
  }

  /** Members whose real is `real` (`ip`, `ip:port`, `[ip6]:port`), in virtual `virtual` or any. */
  private match(real: string, virtual: string | null): string[] {
    const out: string[] = [];
    for (const v of this.config?.virtuals ?? []) {
      if (virtual !== null && virtual !== v.id && virtual !== virtualLabel(v)) continue;
      for (const r of v.reals) {
        const hp = hostPort(r.address, r.port);
        if (real === hp || real === r.address || real === `[${r.address}]`) out.push(memberKey(v, r));
      }
    }
    return [...new Set(out)];
  }

  /**
   * A draining real is drained once the kernel shows it at weight 0 with no active
   * connection (from /proc/net/ip_vs), or at its deadline. Looked at after every reconcile
   * (at least every checkinterval, the resync).
   */
  private drainProgress(): void {
    const draining = [...this.drains].filter(([, d]) => d.phase === 'draining');
    if (!draining.length || !this.config) return;
    const now = this.deps.clock.now();
    const conns = this.deps.activeConnections?.() ?? null;
    const table = this.reconciler.snapshot;
    const byKey = new Map(
      this.config.virtuals.flatMap((v) => v.reals.map((r) => [memberKey(v, r), { v, r }] as const)),
    );
    const done: string[] = [];
    for (const [key, d] of draining) {
      const m = byKey.get(key);
      if (!m) continue;
      const svc = serviceIdOf(m.v).key;
      const dest = kernelDestKey(m.v, m.r.address, m.r.port, m.r.forward);
      const inKernel = table?.get(svc)?.dests.get(dest);
      const active = conns?.get(`${svc}|${dest}`) ?? 0;
      const quiet = !inKernel || (inKernel.weight === 0 && active === 0);
      if (!quiet && now < d.deadline) continue;
      d.phase = 'drained';
      done.push(key);
      this.deps.log.info(
        `Drained real server: ${key.replace('|', ' ')}: ${quiet ? 'no active connection' : `deadline passed with ${active} active connections`}`,
      );
    }
    this.policyChanged(done);
  }

  /** The interval before a probe's next check: shorter while in doubt or down, when configured. */
  private periodOf(p: ProbeDef): number {
    const phase = this.health.phase(p.key);
    if (phase === 'failing') return p.failingMs ?? p.intervalMs;
    if (phase === 'down') return p.downMs ?? p.intervalMs;
    return p.intervalMs;
  }

  /** Panic entered or left (policy.ts): said once each way. */
  private notePanic(v: VirtualService, panic: boolean): void {
    if (panic === this.panicking.has(v.id)) return;
    const view = this.health.view();
    const states = v.reals.map((_r, i) => view(v, i).state);
    const up = states.filter((st) => st === 'up').length;
    if (panic) this.panicking.add(v.id);
    else this.panicking.delete(v.id);
    const share = `${up} of ${states.length} real servers up, panicthreshold ${v.panicthreshold}%`;
    const message = panic
      ? `Panic: ${virtualLabel(v)} (${protocolOf(v)}): ${share}: keeping every real server in service`
      : `Panic over: ${virtualLabel(v)} (${protocolOf(v)}): ${share}`;
    this.deps.log.info(message);
    this.deps.onEvent?.({ type: 'panic', v, panic, up, total: states.length, message });
  }

  /**
   * quorum (keepalived's): the sum of the configured weights of the reals that are up; the
   * quorum is lost below quorum - hysteresis and back at quorum + hysteresis, and each
   * crossing runs quorumdown or quorumup once. It counts as reached until a first loss, and
   * is not judged while a real is still unchecked.
   */
  private quorumCommands(virtuals: readonly VirtualService[]): void {
    const view = this.health.view();
    for (const v of virtuals) {
      if (v.quorum <= 0) continue;
      const states = v.reals.map((_r, i) => view(v, i).state);
      if (states.includes('pending')) continue;
      const sum = v.reals.reduce((n, r, i) => (states[i] === 'up' ? n + r.weight : n), 0);
      const was = this.quorate.get(v.id) ?? true;
      const now = was ? sum >= v.quorum - v.hysteresis : sum >= v.quorum + v.hysteresis;
      if (now === was) continue;
      this.quorate.set(v.id, now);
      const directive = now ? 'quorumup' : 'quorumdown';
      const message = `Quorum ${now ? 'reached' : 'lost'}: ${virtualLabel(v)} (${protocolOf(v)}): weight up ${sum}, quorum ${v.quorum}, hysteresis ${v.hysteresis}`;
      this.deps.log.info(message);
      this.deps.onEvent?.({ type: 'quorum', v, reached: now, sum, message });
      const command = now ? v.quorumup : v.quorumdown;
      if (command) {
        this.deps.runConfigCommand?.(directive, command, [
          virtualLabel(v),
          protocolOf(v),
          String(sum),
          String(v.quorum),
        ]);
      }
    }
  }

  /** Wake for the earliest slow-start step of a planned virtual (plan.ts replanAt). */
  private armReplan(): void {
    let at = Infinity;
    for (const s of this.planned.values()) if (s.replanAt !== null) at = Math.min(at, s.replanAt);
    if (this.replanTimer && this.replanTimer.at <= at) return;
    if (this.replanTimer) this.deps.clock.clearTimeout(this.replanTimer.handle);
    this.replanTimer = null;
    if (at === Infinity || this.stopped) return;
    const handle = this.deps.clock.setTimeout(
      () => {
        this.replanTimer = null;
        const now = this.deps.clock.now();
        for (const [v, s] of this.planned) if (s.replanAt !== null && s.replanAt <= now) this.dirty.add(v.id);
        if (this.dirty.size) void this.runner.request();
        else this.armReplan();
      },
      Math.max(0, at - this.deps.clock.now()),
    );
    this.replanTimer = { at, handle };
  }

  /** Reconcile whatever is dirty now (or right after the reconcile in progress); resolves once done. */
  reconcileNow(): Promise<void> {
    return this.runner.runNow();
  }

  /** One reconcile, as the runner calls it. Resolves false when the kernel was not brought in line. */
  private async reconcileOnce(why: RunReason): Promise<boolean> {
    const cfg = this.config;
    if (!cfg || this.stopped) return true;
    if (why !== 'requested') {
      // The periodic resync (and a retry): re-read the kernel and repair drift (hand edits).
      this.full = true;
      this.fresh = true;
      void this.maintenance.refresh();
      void this.syncDaemons.retry();
    }
    const t0 = this.deps.clock.now();
    const { full, fresh, context, dirty } = this;
    this.full = false;
    this.fresh = false;
    this.context = 'run';
    this.dirty = new Set();
    const virtuals = full ? cfg.virtuals : cfg.virtuals.filter((v) => dirty.has(v.id));
    if (dirty.size) this.planVersion++;
    const version = this.planVersion;
    const desired = this.plan(cfg, virtuals, dirty);
    const retire = this.retire;
    const unchanged = full && version === this.convergedVersion;
    const report = await this.reconciler.reconcile(desired, retire, { fresh, context, complete: full, unchanged });
    const ok = !report.failed.length && report.readError === null;
    if (full && ok) this.convergedVersion = version;
    if (report.readError === null) {
      // Retired services that are gone from the kernel are done with.
      const table = this.reconciler.snapshot;
      this.retire = retire.filter((r) => table?.has(r.svc.key));
    }
    for (const op of report.applied) {
      this.deps.onEvent?.({ type: 'applied', op, context, message: opMessage(op, context) });
    }
    this.markPlaced(virtuals);
    this.fallbackCommands(virtuals);
    this.quorumCommands(virtuals);
    this.drainProgress();
    this.armReplan();
    this.deps.onEvent?.({ type: 'reconcile', report, ms: this.deps.clock.now() - t0 });
    // What failed is tried again (the runner retries with back-off).
    if (!ok) for (const v of virtuals) this.dirty.add(v.id);
    return ok;
  }

  /** plan(), from the cache for virtuals whose health has not changed (see `planned`). */
  private plan(cfg: Config, virtuals: readonly VirtualService[], dirty: ReadonlySet<string>): Desired {
    const view = this.health.view();
    const now = this.deps.clock.now();
    const opts = { readdquiescent: cfg.global.readdquiescent, now, drains: this.drains };
    const desired: Desired = new Map();
    for (const v of virtuals) {
      let s = dirty.has(v.id) ? undefined : this.planned.get(v);
      // A slow start moved on a step since it was planned: plan it again.
      if (s && s.replanAt !== null && s.replanAt <= now) s = undefined;
      if (!s) {
        this.planned.set(v, (s = planVirtual(v, view, opts)));
        this.notePanic(v, s.panic);
      }
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
      this.deps.onEvent?.({ type: 'fallbackcommand', v, status });
      // W-5 fixed: a fwmark virtual is named by its mark (Perl passed ":0").
      this.deps.runConfigCommand?.('fallbackcommand', v.fallbackcommand, [status, virtualLabel(v), protocolOf(v)]);
    }
  }

  /** Reals still waiting for their first check. */
  pendingCount(): number {
    let n = 0;
    for (const m of this.health.members.values()) if (m.state === 'pending') n++;
    return n;
  }

  /**
   * Stop: cancel the checks (aborting any in flight), then take the services whose
   * cleanstop is yes out of the kernel; with cleanstop=no the table is left as it is.
   * `leaveTable`: touch nothing (a dry-run that has seen what it needed).
   */
  async stop(opts: { leaveTable?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.scheduler.stop();
    await this.runner.stop();
    const cfg = this.config;
    if (!cfg || opts.leaveTable) return;
    await this.syncDaemons.stop();
    // A reconcile that was running may have applied a plan older than the last check
    // results, and the one that would follow is not run once stopped: bring the services
    // that stay in the kernel (cleanstop=no) up to date before leaving them.
    const kept = cfg.virtuals.filter((v) => !v.cleanstop);
    if (kept.length && this.dirty.size) {
      const desired = plan(kept, this.health.view(), { readdquiescent: cfg.global.readdquiescent });
      await this.reconciler.reconcile(desired, [], { fresh: true, context: 'run' });
    }
    const clean = cfg.virtuals.filter((v) => v.cleanstop);
    if (!clean.length) return;
    const view = this.health.view();
    for (const v of clean) {
      const label = virtualLabel(v);
      v.reals.forEach((r, i) => {
        if (view(v, i).state !== 'up') return;
        const message = `Purged real server (stop): ${hostPort(r.address, r.port)} (${label})`;
        this.deps.log.info(message);
        this.deps.onEvent?.({ type: 'purged', v, r, message });
      });
    }
    const retire: Retired[] = clean.map((v) => ({ svc: serviceIdOf(v), label: virtualLabel(v), why: 'stop' }));
    // Only the retired services are touched: cleanstop=no services stay exactly as they are.
    await this.reconciler.reconcile(new Map(), retire, { fresh: true, context: 'stop' });
  }

  /** From now on the read model shows each real's recent checks (the status page's strip). */
  keepRecentChecks(): void {
    this.health.keepRecent = true;
  }

  /** The read model: every virtual and real with its health and kernel entry (view.ts). */
  view(): VirtualView[] {
    const virtuals = this.config?.virtuals ?? [];
    const now = this.deps.clock.now();
    return viewOf({
      virtuals,
      health: this.health,
      table: this.reconciler.snapshot,
      startedAt: this.startedAt,
      now,
      policy: { drains: this.drains, panicking: this.panicking, quorate: this.quorate },
    });
  }

  get probeCount(): number {
    return this.probes.probes.size;
  }
}

/** Services of the old config that the new one no longer has (Perl @OLDVIRTUAL purge). */
export function diffRetire(oldCfg: Config, newCfg: Config): Retired[] {
  const keep = new Set(newCfg.virtuals.map((v) => serviceIdOf(v).key));
  return oldCfg.virtuals
    .filter((v) => !keep.has(serviceIdOf(v).key))
    .map((v) => ({ svc: serviceIdOf(v), label: virtualLabel(v), why: 'start' as const }));
}
