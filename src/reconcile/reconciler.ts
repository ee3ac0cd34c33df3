/**
 * Make the kernel equal the plan, and be sure it is.
 *
 *   actual (last snapshot) ─diff─▶ ops ─ipvsadm─▶ kernel ─read back─▶ actual'
 *
 * - The diff starts from the last table read (taken at the previous verify or resync), so
 *   a change costs one ipvsadm run plus one read, not three reads per real as in Perl.
 * - After applying, the table is read back and diffed again. What the kernel now shows is
 *   what happened: an op counts as done (and gets the original's log line) only when the
 *   re-read no longer asks for it. "Already exists"/"not found" (someone else changed the
 *   table) resolve themselves on that re-diff; up to three rounds are tried.
 * - Whatever is still outstanding is logged with the argv and ipvsadm's stderr and left to
 *   the next reconcile (a transition or the periodic resync).
 */
import type { Desired } from './plan';
import { diff, type Op, type Retired } from './diff';
import { opArgv, opId, opMessage, type OpContext } from './ops';
import { IpvsError, type IpvsAdapter, type RunResult } from './ipvsadm';
import type { Table } from './table';

export interface ReconcileLog {
  info(msg: string): void;
  error(msg: string): void;
}

export interface ReconcileReport {
  applied: Op[];
  failed: Op[];
  /** ipvsadm runs that changed (or tried to change) the table. */
  commands: number;
  /** Why the table could not be read, when it could not. */
  readError: string | null;
}

const MAX_ROUNDS = 3;

export class Reconciler {
  /** The table as last read back (null: read it before the next diff). */
  snapshot: Table | null = null;
  /** Counters for status and metrics. */
  stats = { reconciles: 0, commands: 0, failures: 0, skipped: 0, lastMs: 0, lastError: null as string | null };
  /**
   * The table the last reconcile ended on with nothing outstanding. When the caller says
   * the plan has not changed since (opts.unchanged) and a fresh read returns that very
   * table (the adapter returns the same object for the same text), the diff would be
   * empty: it is skipped. A periodic resync of 10,000 unchanged reals then costs one read.
   */
  private converged: Table | null = null;

  constructor(
    private readonly ipvs: IpvsAdapter,
    private readonly log: ReconcileLog,
  ) {}

  get ipvsName(): string {
    return this.ipvs.name;
  }

  /** Read the table now (start, periodic resync). Throws IpvsError. */
  async refresh(thresholds: boolean): Promise<Table> {
    this.snapshot = await this.ipvs.read({ thresholds });
    return this.snapshot;
  }

  /**
   * opts.complete: `desired` covers every managed virtual (only then can the table it ends
   * on count as converged); opts.unchanged: the plan is the one the last complete
   * reconcile converged on.
   */
  async reconcile(
    desired: Desired,
    retire: readonly Retired[],
    opts: { fresh?: boolean; context?: OpContext; unchanged?: boolean; complete?: boolean } = {},
  ): Promise<ReconcileReport> {
    const t0 = Date.now();
    this.stats.reconciles++;
    const thresholds = needsThresholds(desired);
    const report: ReconcileReport = { applied: [], failed: [], commands: 0, readError: null };
    const settled = opts.unchanged === true && retire.length === 0 ? this.converged : null;
    this.converged = null;
    try {
      let table = opts.fresh || !this.snapshot ? await this.refresh(thresholds) : this.snapshot;
      if (settled !== null && table === settled && opts.complete) {
        this.converged = table;
        this.stats.skipped++;
        this.stats.lastMs = Date.now() - t0;
        return report;
      }
      let outstanding = diff(desired, table, retire);
      let lastRun: RunResult | null = null;
      for (let round = 0; round < MAX_ROUNDS && outstanding.length; round++) {
        lastRun = await this.ipvs.run(outstanding.map(opArgv));
        report.commands++;
        this.stats.commands++;
        try {
          table = await this.refresh(thresholds);
        } catch (e) {
          // We ran commands and cannot see what they did: believe nothing, read next time.
          this.snapshot = null;
          throw e;
        }
        const after = diff(desired, table, retire);
        const still = new Set(after.map(opId));
        for (const op of outstanding) {
          if (!still.has(opId(op))) {
            report.applied.push(op);
            this.log.info(opMessage(op, opts.context ?? 'run'));
          }
        }
        const progressed = outstanding.some((op) => !still.has(opId(op)));
        outstanding = after;
        if (!progressed) break;
      }
      if (outstanding.length) {
        report.failed = outstanding;
        this.stats.failures++;
        const detail = lastRun ? (lastRun.error ?? lastRun.stderr) || `exit status ${lastRun.exit}` : 'not run';
        this.stats.lastError = detail;
        for (const op of outstanding) {
          this.log.error(`ipvsadm failed: ${this.ipvs.name} ${opArgv(op).join(' ')}: ${detail} (will retry)`);
        }
      } else {
        this.stats.lastError = null;
        if (opts.complete) this.converged = table;
      }
    } catch (e) {
      if (!(e instanceof IpvsError)) throw e;
      report.readError = e.message;
      this.stats.failures++;
      this.stats.lastError = e.message;
      this.log.error(`cannot read the IPVS table: ${e.message} (will retry)`);
    }
    this.stats.lastMs = Date.now() - t0;
    return report;
  }
}

function needsThresholds(desired: Desired): boolean {
  for (const s of desired.values())
    for (const d of s.dests.values()) if ((d.upper ?? 0) > 0 || (d.lower ?? 0) > 0) return true;
  return false;
}
