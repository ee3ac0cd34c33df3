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
import { oneLine } from '../text/untrusted';

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
/** Past this many left over from a batch, they are tried as a batch again (ipvsadm is broken, not one line). */
const MAX_ONE_BY_ONE = 64;

/** ipvsadm's own words for a failed run, or how it ended. */
function failureText(r: RunResult): string {
  return (r.error ?? r.stderr) || `exit status ${r.exit}`;
}

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
  /** Commands that failed at the last reconcile, with why: each is logged once until it changes. */
  private refused = new Map<string, string>();

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
      /** Why each op that failed on its own failed (its argv → ipvsadm's words). */
      const why = new Map<string, string>();
      let lastRun: RunResult | null = null;
      for (let round = 0; round < MAX_ROUNDS && outstanding.length; round++) {
        if (round === 0 || outstanding.length > MAX_ONE_BY_ONE) {
          lastRun = await this.ipvs.run(outstanding.map(opArgv));
          report.commands++;
          this.stats.commands++;
        } else {
          // `ipvsadm -R` stops at a line it refuses and never runs the ones after it: what
          // a batch left is run one command at a time, so one bad line holds up nothing
          // else, and each failure carries its own ipvsadm message.
          for (const op of outstanding) {
            const r = await this.ipvs.run([opArgv(op)]);
            report.commands++;
            this.stats.commands++;
            if (!r.ok) why.set(opArgv(op).join(' '), failureText(r));
            lastRun = r;
          }
        }
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
        // A batch that failed as a whole is tried line by line once before giving up.
        if (!progressed && round > 0) break;
      }
      const failing = new Map<string, string>();
      for (const op of outstanding) {
        const argv = opArgv(op).join(' ');
        failing.set(argv, why.get(argv) ?? (lastRun ? failureText(lastRun) : 'not run'));
      }
      this.reportFailures(failing);
      if (outstanding.length) {
        report.failed = outstanding;
        this.stats.failures++;
        this.stats.lastError = [...failing.values()][0]!;
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

  /**
   * Log what is still failing, with its argv and ipvsadm's words: once per failure, not
   * at every pass (the resync retries it), and again if the failure changes or comes back.
   */
  private reportFailures(failing: Map<string, string>): void {
    for (const [argv, detail] of failing) {
      if (this.refused.get(argv) !== detail) {
        this.log.error(`ipvsadm failed: ${this.ipvs.name} ${argv}: ${oneLine(detail)} (will retry)`);
      }
    }
    this.refused = failing;
  }
}

function needsThresholds(desired: Desired): boolean {
  for (const s of desired.values())
    for (const d of s.dests.values()) if ((d.upper ?? 0) > 0 || (d.lower ?? 0) > 0) return true;
  return false;
}
