/**
 * The running daemon: logging, pid file, the engine, signals, reload and autoreload.
 *
 * - TERM (and INT, QUIT): stop the checks, apply cleanstop, log
 *   `Linux Director Daemon terminated on signal: TERM`, remove the pid file, exit 0. A
 *   hung check cannot delay this: checks are aborted, and the whole stop is bounded.
 * - HUP: reload. Reloads are serialised and coalesced (a bounded-frequency runner): any
 *   number of HUPs during a reload cause exactly one more.
 * - Autoreload: the config file is watched (chokidar: editors that write a temp file and
 *   rename it, files written in several steps) and, as the original does in its main
 *   loop, looked at once per checkinterval; a change is settled for 300 ms, then the
 *   content's MD5 is compared with the running one, and only a real change is reported
 *   (and, with autoreload=yes, reloaded), as the original does. `callback` runs on every change.
 * - A reload parses the new file completely first; if it is invalid the error is logged
 *   with its line and the running config stays in force, untouched.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { watch, type FSWatcher } from 'chokidar';
import { releaseSpec } from '../checks/registry';
import { runProbe } from '../checks/run';
import { Engine } from '../engine/engine';
import type { ConfigCommand, EngineEvent } from '../engine/events';
import { carryOver } from '../parser/carry-over';
import { readConfigBytes } from '../parser/files';
import { daemonHostname } from '../parser/load';
import { ConfigError, formatWarning, type Config, type DaemonStatus } from '../parser/model';
import { parseConfig } from '../parser/read-config';
import { systemResolver } from '../parser/resolve';
import { DryRunIpvs, Ipvsadm, findIpvsadm, type IpvsAdapter } from '../reconcile/ipvsadm';
import { realClock } from '../schedule/clock';
import { BoundedRunner } from '../schedule/runner';
import { preloadChecks } from '../schedule/target';
import { oneLine } from '../text/untrusted';
import { endChildren } from '../util/children';
import { isExecutable } from '../util/fs';
import { routeLibraryChatter } from './chatter';
import { runCommand } from './exec';
import { readState, stateFilePath, writeState } from './state-file';
import { connectionsNow } from '../reconcile/proc-ip-vs';
import { maxChecksInFlight } from './limits';
import { SyslogWriter, destinationFor, type DaemonLogger } from './log-sinks';
import { createLogger } from './logging';
import { tuneHeap } from './memory';
import { worldWritableWarnings } from './permissions';
import { removePidFile, writePidFile } from './pidfile';
import { Redactor } from './redact';

export const VERSION_STR = 'Linux Director v1.186-ha';

export interface DaemonOptions {
  /** The resolved config path ($CONFIG). */
  configFile: string;
  cfgname: string;
  debug: boolean;
  dryRun: boolean;
  ipvsadm: string | null;
  /** Write the pid file (not with -d). */
  writePid: boolean;
  /** Called once the daemon runs (pid file written, first reconcile done). */
  onReady?: () => void;
  /** Extra listeners (status socket, metrics, monitorfile, alerts). */
  plugins?: DaemonPlugin[];
  /**
   * The daemon is the whole process (the ldirectord command; not a test that runs one in
   * its own process): it takes over console output and ends the process on a bug.
   */
  ownsProcess?: boolean;
}

export interface DaemonPlugin {
  /**
   * Take what the plugin needs from the system (a listening port) before anything else
   * starts: a failure here is a start error, and the director is left as it was.
   */
  bind?(): Promise<void>;
  start(d: Daemon): Promise<void> | void;
  event?(e: EngineEvent): void;
  reloaded?(cfg: Config): void;
  stop?(): Promise<void> | void;
}

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGABRT', 'SIGXCPU', 'SIGXFSZ', 'SIGSYS'];
/** Upper bound for stopping (cleanup included), kept under the OCF agent's 15 s stop timeout. */
const STOP_BOUND_MS = 12000;
/** A change to the config file is acted on once it has been quiet this long. */
const FILE_SETTLE_MS = 300;

export class Daemon {
  readonly engine: Engine;
  readonly log: DaemonLogger;
  readonly redactor: Redactor;
  config: Config;
  digest: string;
  private watcher: FSWatcher | null = null;
  private readonly reloads: BoundedRunner;
  private readonly fileChecks: BoundedRunner;
  private stopping: Promise<number> | null = null;
  private resolveDone!: (code: number) => void;
  /** Keeps the process alive: every other timer of the daemon is unref'd. */
  private keepalive: NodeJS.Timeout | null = null;
  /** The state file (drains, slow starts: state-file.ts), and whether a write is queued. */
  private readonly statePath: string;
  private policyWrite = false;
  readonly done: Promise<number>;
  readonly ipvs: IpvsAdapter;
  readonly plugins: DaemonPlugin[];
  /** Reloads done and failed (status, metrics). */
  /**
   * Reloads: how many, and the last outcome. The config counts as loaded successfully at
   * start; a failed reload is reported (status, metrics) until a good one.
   */
  stats = {
    reloads: 0,
    reloadFailures: 0,
    lastReloadError: null as string | null,
    /** ISO time of the last failed reload, while it is the last outcome. */
    lastReloadFailedAt: null as string | null,
    /** ISO time of the last successful load (start or reload). */
    lastReloadOkAt: new Date().toISOString(),
  };
  /** Perl's $DAEMON_STATUS: what emailalertstatus filters on and alert mails report. */
  status: DaemonStatus = 'starting';
  /** Bumped by every start, reload and stop, so a late settle() cannot undo a newer status. */
  private statusGen = 0;
  /** Reals still awaiting their first check, as last counted by settle(). */
  private pendingFirst = 0;

  constructor(
    cfg: Config,
    bytes: Buffer,
    readonly opts: DaemonOptions,
  ) {
    // Before the first check: the heap's limits are set as it grows (memory.ts).
    tuneHeap(realCount(cfg));
    this.config = cfg;
    this.digest = md5(bytes);
    this.redactor = new Redactor(cfg);
    const dest = destinationFor(cfg.global.logfile, { debug: opts.debug, supervised: cfg.global.supervised });
    this.log = createLogger(dest, { cfgname: opts.cfgname, debug: opts.debug, redactor: this.redactor });
    this.plugins = opts.plugins ?? [];
    this.statePath = stateFilePath(opts.cfgname);
    const real = new Ipvsadm(findIpvsadm(opts.ipvsadm, opts.debug));
    this.ipvs = opts.dryRun
      ? new DryRunIpvs(real, (argv) => this.log.info(`dry-run: would run: ${real.name} ${argv.join(' ')}`))
      : real;
    this.engine = new Engine({
      clock: realClock,
      ipvs: this.ipvs,
      log: this.log,
      runProbe,
      releaseProbe: releaseSpec,
      maxInFlight: maxChecksInFlight(),
      onEvent: (e) => this.onEvent(e),
      runConfigCommand: (directive, cmd, args) => this.configCommand(directive, cmd, args),
      activeConnections: () => connectionsNow(),
    });
    this.reloads = new BoundedRunner({
      clock: realClock,
      run: () => this.reloadOnce().then(() => true),
      minGapMs: 0,
      periodMs: () => 0,
    });
    this.fileChecks = new BoundedRunner({
      clock: realClock,
      // The periodic look (a missed event, a network filesystem) reads the file only when
      // its stat changed; an event always does.
      run: (why) => this.checkFile({ onlyIfStatChanged: why === 'periodic' }).then(() => true),
      minGapMs: 0,
      settleMs: FILE_SETTLE_MS,
      periodMs: () => this.config.global.checkinterval * 1000,
    });
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  private onEvent(e: EngineEvent): void {
    for (const p of this.plugins) p.event?.(e);
    if (e.type === 'policy') this.keepPolicy();
    // The last first check: settle after the engine has handled it (its reconcile request).
    const first = e.type === 'transition' && (e.t.kind === 'up' || e.t.kind === 'down') && e.t.from === 'pending';
    if (first && --this.pendingFirst === 0) queueMicrotask(() => this.settle(this.statusGen));
  }

  /** Write the state file once for every burst of policy changes (not in a dry-run). */
  private keepPolicy(): void {
    if (this.opts.dryRun || this.policyWrite) return;
    this.policyWrite = true;
    queueMicrotask(() => {
      this.policyWrite = false;
      try {
        writeState(this.statePath, this.engine.policyState());
      } catch (e) {
        this.log.error(`cannot write ${this.statePath}: ${(e as Error).message}`);
      }
    });
  }

  private configCommand(directive: ConfigCommand, cmd: string, args: string[]): void {
    if (this.opts.dryRun) {
      this.log.info(`dry-run: would run ${directive}: ${cmd} ${args.join(' ')}`);
      return;
    }
    void runCommand(cmd, args).then((r) => {
      if (!r.ok) this.log.error(`${directive} failed: ${cmd} ${args.join(' ')}: ${r.detail}`);
    });
  }

  async start(): Promise<void> {
    const { opts, log } = this;
    this.warnAbout(this.config);
    log.info(
      opts.debug || this.config.global.supervised
        ? `Starting ${VERSION_STR} with pid: ${process.pid}`
        : `Starting ${VERSION_STR} as daemon`,
    );
    if (opts.dryRun) log.info(`dry-run: commands are logged, the IPVS table is not changed (${this.ipvs.name})`);
    for (const p of this.plugins) await p.bind?.();
    if (opts.writePid) writePidFile(opts.cfgname);
    this.keepalive = setInterval(() => undefined, 1 << 30);
    for (const s of STOP_SIGNALS) process.on(s, () => void this.stop(s.replace(/^SIG/, '')));
    process.on('SIGHUP', () => {
      log.info('Reloading Linux Director Daemon config on signal');
      void this.reload();
    });
    process.on('SIGPIPE', () => undefined);
    await preloadChecks(this.config);
    if (opts.ownsProcess) {
      this.unrouteChatter = routeLibraryChatter(log);
      process.on('uncaughtException', (e) => this.crash('uncaught exception', e));
      process.on('unhandledRejection', (e) => this.crash('unhandled promise rejection', e));
    }
    const kept = readState(this.statePath);
    if (kept.error) log.error(kept.error);
    this.engine.restorePolicy(kept.state);
    await this.engine.start(this.config);
    for (const p of this.plugins) await p.start(this);
    this.settle(this.statusGen);
    this.watch();
    opts.onReady?.();
  }

  private warnAbout(cfg: Config): void {
    for (const w of cfg.warnings) this.log.warn(formatWarning(this.opts.configFile, w));
    for (const w of worldWritableWarnings(this.opts.configFile, cfg)) this.log.warn(`Warning [${process.pid}]: ${w}`);
  }

  /** Reload from disk (HUP or autoreload): parse first; on error keep the running config. */
  reload(): Promise<void> {
    return this.stopping ? Promise.resolve() : this.reloads.request();
  }

  private async reloadOnce(): Promise<void> {
    if (this.stopping) return;
    const { log, opts } = this;
    const gen = ++this.statusGen;
    const was = this.status;
    this.status = 'reloading';
    let bytes: Buffer | null = null;
    try {
      // New checks wait while the file is parsed and the plan installed (engine.reload).
      await this.engine.reload(async () => {
        bytes = readConfigBytes(opts.configFile);
        // A zero-byte file is almost always one caught half-written (truncate, then write):
        // applying it would take every service down. A file meant to be empty says so with
        // a comment.
        if (bytes.length === 0) {
          throw new ConfigError(
            opts.configFile,
            0,
            'the file is empty (write a comment line to really configure nothing)',
          );
        }
        const parsed = await parseConfig(bytes, opts.configFile, {
          resolver: systemResolver(),
          hostname: daemonHostname(),
          checkFiles: true,
          debug: opts.debug,
        });
        // Unchanged virtual services stay the objects the engine runs (their checks, health
        // and plans carry over; see parser/carry-over.ts).
        const cfg = carryOver(this.config, parsed);
        await preloadChecks(cfg);
        tuneHeap(realCount(cfg));
        this.stats.reloads++;
        this.stats.lastReloadError = null;
        this.stats.lastReloadFailedAt = null;
        this.stats.lastReloadOkAt = new Date().toISOString();
        this.digest = md5(bytes);
        this.warnAbout(cfg);
        this.config = cfg;
        this.redactor.update(cfg);
        return cfg;
      });
    } catch (e) {
      this.stats.reloadFailures++;
      const msg =
        e instanceof ConfigError
          ? e.message
          : `Error [${process.pid}] reading file ${opts.configFile}: ${(e as Error).message}`;
      this.stats.lastReloadError = msg;
      this.stats.lastReloadFailedAt = new Date().toISOString();
      log.error(`${msg} (keeping the running configuration)`);
      if (gen === this.statusGen) this.status = was;
      this.settle(gen);
      return;
    }
    for (const p of this.plugins) p.reloaded?.(this.config);
    this.settle(gen);
  }

  /**
   * Leave 'starting' or 'reloading' the way Perl does: only once every real has had its
   * first check (Perl checks them all inside ld_start) and the reconcile applying those
   * results is done, so the start-up alerts carry 'starting' (emailalertstatus=running
   * leaves them out, as it does with the original).
   */
  private settle(gen: number): void {
    if (gen !== this.statusGen || this.stopping || this.status === 'running') return;
    this.pendingFirst = this.engine.pendingCount();
    if (this.pendingFirst) return;
    // Joins a reconcile in progress (and its follow-up run) or applies what is dirty now.
    void this.engine.reconcileNow().then(() => {
      if (gen === this.statusGen && !this.stopping) this.status = 'running';
    });
  }

  /** Watch the config file for changes (spec §3.1 autoreload / callback). */
  private watch(): void {
    const file = this.opts.configFile;
    this.watcher = watch(file, { persistent: false, ignoreInitial: true, atomic: true, awaitWriteFinish: false });
    for (const ev of ['change', 'add', 'unlink', 'addDir', 'unlinkDir'] as const) {
      this.watcher.on(ev, () => void this.fileChecks.request());
    }
    this.watcher.on('error', () => undefined);
    this.fileChecks.start();
  }

  private lastStat = '';
  private lastFileError: string | null = null;

  /** Perl check_cfgfile: has the content really changed? Then reload or ignore, and run callback. */
  async checkFile(how: { onlyIfStatChanged?: boolean } = {}): Promise<void> {
    if (this.stopping) return;
    const { log, opts } = this;
    let digest: string;
    try {
      const st = statSync(opts.configFile);
      const stamp = `${st.ino}:${st.size}:${st.mtimeMs}:${st.isFile()}`;
      if (how.onlyIfStatChanged && stamp === this.lastStat) return;
      this.lastStat = stamp;
      digest = md5(readConfigBytes(opts.configFile));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = `Error [${process.pid}] reading file ${opts.configFile}: ${code ?? (e as ConfigError).detail ?? (e as Error).message} (keeping the running configuration)`;
      // Said once per distinct problem, not at every look.
      if (why !== this.lastFileError) log.error(why);
      this.lastFileError = why;
      this.lastStat = '';
      return;
    }
    this.lastFileError = null;
    if (digest === this.digest) return;
    this.digest = digest;
    log.info(`Configuration file '${opts.configFile}' has changed on disk`);
    if (this.config.global.autoreload) {
      log.info(' - reread new configuration');
      await this.reload();
    } else log.info(' - ignore new configuration');
    const cb = this.config.global.callback;
    if (cb && isExecutable(cb)) {
      const r = await runCommand(cb, [opts.configFile]);
      if (!r.ok) log.error(`callback failed: ${cb} ${opts.configFile}: ${r.detail}`);
    }
  }

  private crashed = false;
  private unrouteChatter: (() => void) | null = null;

  /**
   * A bug got through (an exception nobody caught): say so with the stack in the log, in
   * syslog and on stderr, end the children, and exit non-zero. The IPVS table is left as
   * it is (traffic keeps flowing to the reals last known healthy) for the cluster manager
   * or the operator to restart the daemon.
   */
  private crash(what: string, e: unknown): void {
    if (this.crashed) return;
    this.crashed = true;
    const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
    const text = `Exiting with exit_status 1: ${what}: ${detail}`;
    try {
      this.log.error(text);
      process.stderr.write(oneLine(this.redactor.redact(text), 8192) + '\n');
    } catch {
      // the log itself may be what failed
    }
    const syslog = this.log.destination.kind === 'syslog' ? null : new SyslogWriter('daemon');
    syslog?.write(oneLine(this.redactor.redact(text), 8192));
    if (this.opts.writePid) removePidFile(this.opts.cfgname);
    const bounded = (p: Promise<unknown>, ms: number) =>
      Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);
    void Promise.all([
      bounded(endChildren(500), 1000),
      bounded(this.log.flush(), 1000),
      bounded(syslog?.closeAndWait(1000) ?? Promise.resolve(), 1000),
    ]).finally(() => process.exit(1));
  }

  /** Stop (bounded), then resolve `done` with the exit code. */
  stop(signal: string): Promise<number> {
    if (this.stopping) return this.stopping;
    this.status = 'stopping';
    this.statusGen++;
    this.stopping = (async () => {
      const bound = new Promise<void>((r) => setTimeout(r, STOP_BOUND_MS).unref());
      await Promise.race([this.stopInner(), bound]);
      // Whatever is still running (a hung check command, an ipvsadm past the bound) ends here.
      await endChildren(500);
      this.log.info(`Linux Director Daemon terminated on signal: ${signal}`);
      if (this.opts.writePid) removePidFile(this.opts.cfgname);
      await Promise.race([this.log.flush(), new Promise((r) => setTimeout(r, 1000).unref())]);
      this.log.close();
      this.unrouteChatter?.();
      if (this.keepalive) clearInterval(this.keepalive);
      this.resolveDone(0);
      return 0;
    })();
    return this.stopping;
  }

  private async stopInner(): Promise<void> {
    await this.watcher?.close().catch(() => undefined);
    await this.fileChecks.stop();
    await this.reloads.stop();
    // The engine first, so plugins (alerts, monitorfile) still see the stop-time purges.
    try {
      await this.engine.stop();
    } finally {
      for (const p of this.plugins) await Promise.resolve(p.stop?.()).catch(() => undefined);
    }
  }
}

/** How many reals the config checks (an upper bound of the probes, known before they exist). */
function realCount(cfg: Config): number {
  return cfg.virtuals.reduce((n, v) => n + v.reals.length, 0);
}

export function md5(b: Buffer): string {
  return createHash('md5').update(b).digest('hex');
}
