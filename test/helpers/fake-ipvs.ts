/**
 * A fake kernel for planner/reconciler/engine unit tests ONLY: the table is a value and
 * commands are applied with the same ipvsadm semantics the VM tests check against the
 * real kernel (src/reconcile/simulate.ts). The VM suite runs the real ipvsadm.
 */
import { formatSave } from '../../src/reconcile/ipvsadm-save';
import type { IpvsAdapter, RunResult } from '../../src/reconcile/ipvsadm';
import { IpvsError } from '../../src/reconcile/ipvsadm';
import { simulateCommand } from '../../src/reconcile/simulate';
import { isSyncCommand, simulateSyncCommand, type SyncDaemon } from '../../src/reconcile/sync-daemon';
import { cloneTable, type Table } from '../../src/reconcile/table';

export class FakeIpvs implements IpvsAdapter {
  readonly name = 'fake-ipvsadm';
  table: Table = new Map();
  /** Every mutating command, as an ipvsadm command line. */
  log: string[] = [];
  /** Runs (processes) that changed the table, and reads. */
  runs = 0;
  reads = 0;
  spawned = 0;
  /** Set to make reads fail (ipvsadm missing, module not loaded). */
  failReads: string | null = null;
  /** Commands matching this fail with "Invalid operation" and change nothing. */
  failCommands: RegExp | null = null;
  /**
   * Commands matching this are refused as ipvsadm refuses a bad argument ("illegal weight
   * specified"): it exits, so in an `ipvsadm -R` batch the lines after it never run.
   */
  refuseArgs: RegExp | null = null;

  /** The kernel's sync threads (`--start-daemon`, `--stop-daemon`). */
  syncDaemons: SyncDaemon[] = [];

  private last: { text: string; table: Table } | null = null;

  async daemons(): Promise<SyncDaemon[]> {
    this.spawned++;
    if (this.failReads) throw new IpvsError(this.failReads, ['-L', '--daemon'], this.failReads);
    return this.syncDaemons.map((d) => ({ ...d }));
  }

  /**
   * As the real adapter (src/reconcile/ipvsadm.ts): the same `-S -n` text gives the same
   * Table object, unless thresholds are asked for (they are not in that text).
   */
  async read(opts: { thresholds: boolean } = { thresholds: false }): Promise<Table> {
    this.reads++;
    this.spawned++;
    if (this.failReads) {
      this.last = null;
      throw new IpvsError(this.failReads, ['-S', '-n'], this.failReads);
    }
    const text = formatSave(this.table);
    if (!opts.thresholds && this.last?.text === text) return this.last.table;
    const table = cloneTable(this.table);
    this.last = opts.thresholds ? null : { text, table };
    return table;
  }

  async run(commands: string[][]): Promise<RunResult> {
    this.runs++;
    this.spawned++;
    const errors: string[] = [];
    for (const c of commands) {
      const line = c.join(' ');
      this.log.push(line);
      if (this.refuseArgs?.test(line)) {
        errors.push('illegal weight specified');
        break;
      }
      if (this.failCommands?.test(line)) {
        errors.push('Invalid operation');
        continue;
      }
      const e = isSyncCommand(c) ? simulateSyncCommand(this.syncDaemons, c) : simulateCommand(this.table, c);
      if (e) errors.push(e);
    }
    return {
      ok: errors.length === 0,
      argv: commands.map((c) => c.join(' ')),
      stderr: errors.join('\n'),
      exit: 0,
      error: null,
    };
  }

  /** Run commands as an operator would by hand (not logged as the daemon's). */
  hand(...lines: string[]): void {
    for (const l of lines) {
      const e = simulateCommand(this.table, l.split(/\s+/));
      if (e) throw new Error(`hand edit failed: ${l}: ${e}`);
    }
  }

  /** `ipvsadm -S -n` of the current table, sorted within services for stable asserts. */
  save(): string {
    return formatSave(this.table);
  }

  take(): string[] {
    const l = this.log;
    this.log = [];
    return l;
  }
}
