/**
 * The IPVS connection synchronisation daemon (issue 20), an addition: with
 * `syncdaemon = master|backup|both INTERFACE [SYNCID]` the daemon starts the kernel's sync
 * threads (`ipvsadm --start-daemon STATE --mcast-interface IF --syncid ID`) when it
 * starts or reloads, and stops the ones it started when it stops, so that connections
 * established through one director are known to the other and survive a failover.
 * Without the directive nothing here runs: a Perl config never touches the sync daemon.
 *
 * The kernel's daemons are read back with `ipvsadm -L --daemon` (the only place they show):
 * one that already runs as configured is kept (a restart after a crash does not drop the
 * peer's stream), one that runs with another interface or sync id is restarted, one a
 * reload no longer wants is stopped. A failed start is logged with its argv and stderr and
 * tried again at every resync until it succeeds.
 */

import { SYNC_STATES, type SyncDaemonConfig, type SyncState } from '../parser/sync-daemon';
import type { Logger } from '../util/log';
import type { IpvsAdapter } from './ipvsadm';

/** One kernel sync thread, as `ipvsadm -L --daemon` lists it. */
export interface SyncDaemon {
  state: SyncState;
  interface: string;
  syncid: number;
}

const LINE = /^(master|backup) sync daemon \(mcast=([^,()\s]{1,15}), syncid=(\d{1,3})[,)]/;

/** Parse `ipvsadm -L --daemon`: one line per running thread (ipvsadm's list_daemon). */
export function parseDaemonList(text: string): SyncDaemon[] {
  const out: SyncDaemon[] = [];
  for (const line of text.split('\n').slice(0, 16)) {
    const m = LINE.exec(line.trim());
    if (m) out.push({ state: m[1] as SyncState, interface: m[2]!, syncid: Number(m[3]) });
  }
  return out;
}

/** ipvsadm's own listing, for the stand-in and the dry-run's copy. */
export function formatDaemonList(daemons: readonly SyncDaemon[]): string {
  return SYNC_STATES.flatMap((s) => daemons.filter((d) => d.state === s))
    .map((d) => `${d.state} sync daemon (mcast=${d.interface}, syncid=${d.syncid})\n`)
    .join('');
}

export const startArgv = (d: SyncDaemon): string[] => [
  '--start-daemon',
  d.state,
  '--mcast-interface',
  d.interface,
  '--syncid',
  String(d.syncid),
];
export const stopArgv = (state: SyncState): string[] => ['--stop-daemon', state];

/** The threads a config wants. */
export function wanted(cfg: SyncDaemonConfig | null): SyncDaemon[] {
  return cfg ? cfg.states.map((state) => ({ state, interface: cfg.interface, syncid: cfg.syncid })) : [];
}

const same = (a: SyncDaemon, b: SyncDaemon) => a.interface === b.interface && a.syncid === b.syncid;

/**
 * The commands that bring the kernel's threads (`have`) to `want`. Only states this daemon
 * manages are touched (`managed`: what it wants now or started before); a thread an
 * operator started by hand for a state the config does not name is left alone.
 */
export function syncCommands(
  want: readonly SyncDaemon[],
  have: readonly SyncDaemon[],
  managed: ReadonlySet<SyncState>,
): string[][] {
  const cmds: string[][] = [];
  for (const state of SYNC_STATES) {
    const w = want.find((d) => d.state === state);
    const h = have.find((d) => d.state === state);
    if (w && h && same(w, h)) continue;
    if (h && (w || managed.has(state))) cmds.push(stopArgv(state));
    if (w) cmds.push(startArgv(w));
  }
  return cmds;
}

/**
 * Apply one `--start-daemon`/`--stop-daemon` command to a list of threads, as the kernel
 * does; an error message when the kernel would refuse it (the dry-run's copy, the stand-in).
 */
export function simulateSyncCommand(daemons: SyncDaemon[], argv: readonly string[]): string | null {
  const state = argv[1] as SyncState;
  if (!SYNC_STATES.includes(state)) return `invalid daemon state ${argv[1]}`;
  const at = daemons.findIndex((d) => d.state === state);
  if (argv[0] === '--stop-daemon') {
    if (at < 0) return 'No such process';
    daemons.splice(at, 1);
    return null;
  }
  if (at >= 0) return 'File exists';
  const opt = (name: string) => {
    const i = argv.indexOf(name);
    return i > 0 ? argv[i + 1] : undefined;
  };
  const ifname = opt('--mcast-interface');
  if (!ifname) return 'mcast-interface is required';
  daemons.push({ state, interface: ifname, syncid: Number(opt('--syncid') ?? 0) });
  return null;
}

export const isSyncCommand = (argv: readonly string[]) => argv[0] === '--start-daemon' || argv[0] === '--stop-daemon';

/** What status shows of the sync daemon: each wanted thread and whether the kernel runs it so. */
export interface SyncDaemonView {
  threads: Array<SyncDaemon & { running: boolean }>;
  /** Why the last attempt to bring them in line failed (tried again at the next resync). */
  error: string | null;
}

/** Starts, adopts, restarts and stops the kernel's sync threads; one change at a time. */
export class SyncDaemons {
  private want: SyncDaemon[] = [];
  private running: SyncDaemon[] = [];
  /** States this daemon asked for and has not yet stopped: the only ones it ever stops. */
  private readonly managed = new Set<SyncState>();
  private error: string | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly ipvs: IpvsAdapter,
    private readonly log: Logger,
  ) {}

  /** At start and at every reload: bring the kernel's threads to what `cfg` asks for. */
  apply(cfg: SyncDaemonConfig | null): Promise<void> {
    this.want = wanted(cfg);
    for (const d of this.want) this.managed.add(d.state);
    return this.serially();
  }

  /** At a resync: try again what failed. */
  retry(): Promise<void> {
    return this.error === null ? this.queue : this.serially();
  }

  /** When the daemon stops: stop the threads it started. */
  stop(): Promise<void> {
    this.want = [];
    return this.serially();
  }

  view(): SyncDaemonView | null {
    if (!this.managed.size) return null;
    const threads = this.want.map((w) => ({
      ...w,
      running: this.running.some((r) => r.state === w.state && same(r, w)),
    }));
    return { threads, error: this.error };
  }

  private serially(): Promise<void> {
    this.queue = this.queue.then(() => this.converge());
    return this.queue;
  }

  private async converge(): Promise<void> {
    if (!this.managed.size) return; // never configured: not even a read
    try {
      this.running = await this.ipvs.daemons();
    } catch (e) {
      this.fail(`cannot read the IPVS sync daemons: ${(e as Error).message}`);
      return;
    }
    this.error = null;
    for (const argv of syncCommands(this.want, this.running, this.managed)) {
      const r = await this.ipvs.run([argv]);
      if (!r.ok) {
        this.fail(`${r.argv.join('; ')} failed: ${r.error ?? (r.stderr || `status ${r.exit}`)}`);
        return;
      }
      simulateSyncCommand(this.running, argv);
      this.log.info(
        argv[0] === '--start-daemon'
          ? `Started IPVS sync daemon: ${argv[1]} on ${argv[3]}, syncid ${argv[5]}`
          : `Stopped IPVS sync daemon: ${argv[1]}`,
      );
    }
    // In line: a state no longer wanted has been stopped, and is no longer this daemon's
    // (a thread an operator starts for it later is left alone).
    for (const state of [...this.managed]) if (!this.want.some((w) => w.state === state)) this.managed.delete(state);
  }

  private fail(message: string): void {
    this.error = message;
    this.log.error(`${message} (will retry)`);
  }
}
