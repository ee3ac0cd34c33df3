/**
 * The original's commands: start, stop, restart, try-restart, reload, force-reload,
 * status, with its exit codes and texts (spec §1.3), which the OCF resource agent,
 * init scripts and heartbeat depend on.
 *
 * Differences by design (README): `stop` waits until the daemon has cleaned up (W-16),
 * KILLs it if it has not after STOP_WAIT_MS and returns 0 only once it is gone; `start`
 * returns 0 only once the daemon runs with its table, within LDIRECTORD_START_TIMEOUT;
 * `status` and `stop` work from the pid file even when the config is broken, and never
 * delete a running daemon's pid file (W-1); a pid file counts only when its process is
 * this daemon for this config (pidfile.ts); the commands that change the director refuse
 * at once, with status 4, when not run as root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { readFileSync, writeSync } from 'node:fs';
import { resolve as absolute } from 'node:path';
import type { DaemonCommand, GlobalOptions } from './args';
import { ConfigError, formatWarning, type Config } from '../parser/model';
import { loadConfig, locateConfig, logfileBefore } from '../parser/load';
import { DEFAULT_LOGFILE } from '../parser/directives';
import type { Daemon, DaemonPlugin } from '../daemon/daemon';
import { createDirectLogger, destinationFor, type DaemonLogger } from '../daemon/log-sinks';
import { isAlive, readPidFile } from '../daemon/pidfile';
import { Redactor } from '../daemon/redact';
import { parseListen } from '../daemon/listen';
import { query } from '../daemon/status-protocol';
import { reloadFailure } from './show';
import { inert } from '../text/untrusted';

export interface ControlRequest {
  command: DaemonCommand;
  config: string;
  cfgname: string;
  opts: GlobalOptions;
  argv: string[];
  plugins?: (cfg: Config) => DaemonPlugin[];
}

/** What every daemon runs besides the engine (metrics only when asked for). */
async function defaultPlugins(req: ControlRequest, cfg: Config): Promise<DaemonPlugin[]> {
  const [{ StatusSocket }, { MonitorFile }, { EmailAlerts }] = await Promise.all([
    import('../daemon/status.js'),
    import('../daemon/monitorfile.js'),
    import('../daemon/alerts.js'),
  ]);
  const plugins: DaemonPlugin[] = [new StatusSocket(), new MonitorFile(), new EmailAlerts({ dryRun: req.opts.dryRun })];
  const http = listenerOf(req.opts);
  if (http) {
    const page = http.page ? new (await import('../daemon/status-page.js')).StatusPage() : null;
    plugins.push(new (await import('../daemon/metrics.js')).Metrics(http.listen, page));
  }
  return [...plugins, ...(req.plugins?.(cfg) ?? [])];
}

/**
 * The HTTP listener asked for (--metrics or LDIRECTORD_METRICS), and whether it also serves
 * the status page (--status-page or LDIRECTORD_STATUS_PAGE=1); null when none. Throws the
 * usage error for a bad address, or a page without a listener.
 */
function listenerOf(opts: GlobalOptions): { listen: { host: string; port: number }; page: boolean } | null {
  const metrics = opts.metrics ?? process.env.LDIRECTORD_METRICS ?? null;
  const page = opts.statusPage || /^(1|yes|true)$/i.test(process.env.LDIRECTORD_STATUS_PAGE ?? '');
  if (!metrics) {
    if (page) throw new Error('--status-page is served on the metrics listener: give --metrics [ADDR:]PORT too');
    return null;
  }
  return { listen: parseListen(metrics), page };
}

async function newDaemon(...args: ConstructorParameters<typeof Daemon>): Promise<Daemon> {
  const { Daemon: D } = await import('../daemon/daemon.js');
  return new D(...args);
}

const DAEMON_ENV = 'LDIRECTORD_DAEMON_CHILD';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** LSB's exit status for "user had insufficient privilege". */
const EXIT_PRIVILEGE = 4;

/**
 * Commands that change the director need root: they signal a root daemon, write the pid
 * file in /var/run and run ipvsadm. Said at once, rather than hanging or half-working.
 * `-d` (a foreground run, for trying things) and LDIRECTORD_RUN_DIR (a run directory of
 * one's own: tests, unprivileged installs) are left to fail or succeed on their own.
 */
function privilegeError(req: ControlRequest): string | null {
  if (req.command === 'status' || req.opts.debug || process.env.LDIRECTORD_RUN_DIR) return null;
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return null;
  return `ldirectord ${req.command}: permission denied: it needs root (running as uid ${uid})`;
}

export async function runControl(req: ControlRequest): Promise<number> {
  const denied = process.env[DAEMON_ENV] === undefined ? privilegeError(req) : null;
  if (denied) {
    process.stderr.write(denied + '\n');
    return EXIT_PRIVILEGE;
  }
  // A daemon this user may not signal: said before anything else is looked at.
  if (req.command !== 'start' && req.command !== 'status' && process.env[DAEMON_ENV] === undefined) {
    const running = readPidFile(req.cfgname).running;
    const why = running === null ? null : signalRefused(running);
    if (why) {
      process.stderr.write(`ldirectord ${req.command}: permission denied: cannot signal pid ${running}: ${why}\n`);
      return EXIT_PRIVILEGE;
    }
  }
  try {
    listenerOf(req.opts);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 255;
  }
  const file = locateConfig(req.config);
  if (file === null) {
    const msg = `Config file ${req.config} not found`;
    const log = bootLogger(null, req);
    log.info(msg);
    log.info('Exiting with exit_status 1: Initialisation Error');
    await log.flush();
    process.stderr.write(msg + '\n');
    return 1;
  }
  // The config is read for every command, as the original does; only start, restart and
  // reload need it to be valid (status and stop work from the pid file: W-1).
  let cfg: Config | null = null;
  let cfgError: ConfigError | null = null;
  const needsValid = ['start', 'restart', 'try-restart', 'reload', 'force-reload'].includes(req.command);
  try {
    cfg = await loadConfig(file, {
      checkFiles: req.command === 'start' || req.command === 'restart',
      debug: req.opts.debug,
    });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    cfgError = e;
  }
  if (cfgError && needsValid && process.env[DAEMON_ENV] === undefined) {
    process.stderr.write(cfgError.message + '\n');
    const log = bootLogger(null, req, logfileBefore(file, cfgError.line));
    log.info('Exiting with exit_status 2: config_error: Configuration Error');
    await log.flush();
    return 2;
  }
  if (cfgError && process.env[DAEMON_ENV] !== undefined) {
    reportToParent({ ok: false, code: 2, message: cfgError.message });
    return 2;
  }
  const log = bootLogger(cfg, req);
  if (cfgError) {
    const keeps = readPidFile(req.cfgname).running !== null ? ' (the running daemon keeps its configuration)' : '';
    process.stderr.write(`${cfgError.message.replace(/^Error/, 'Warning')}${keeps}\n`);
  }
  if (cfg)
    for (const w of cfg.warnings) if (req.command === 'start') process.stderr.write(formatWarning(file, w) + '\n');
  // The daemonised child (see startDaemon) goes straight to running.
  if (process.env[DAEMON_ENV] !== undefined) {
    delete process.env[DAEMON_ENV];
    return runDaemonChild(cfg!, file, req);
  }
  log.info(`Invoking ldirectord invoked as: ${process.argv[1]} ${req.argv.join(' ')} `);

  const pid = readPidFile(req.cfgname);
  const running = pid.running;
  switch (req.command) {
    case 'start':
      if (running !== null) return 0;
      return startDaemon(cfg!, file, req, log);
    case 'stop':
      return running === null ? 0 : terminate(running, log);
    case 'restart':
    case 'try-restart': {
      if (running === null) return req.command === 'restart' ? startDaemon(cfg!, file, req, log) : 0;
      const stopped = await terminate(running, log);
      return stopped === 0 ? startDaemon(cfg!, file, req, log) : stopped;
    }
    case 'reload':
    case 'force-reload':
      if (running === null) {
        log.info(`ldirectord is stopped for ${file}`);
        return 1;
      }
      return signalDaemon(running, 'SIGHUP', log);
    case 'status':
      if (running !== null) {
        process.stderr.write(`ldirectord for ${file} is running with pid: ${running}\n`);
        // An addition: a failed reload is said until a good one (the daemon's status socket).
        const failed = await query(req.cfgname, 'status', 1000).then(reloadFailure, () => null);
        if (failed) process.stderr.write(failed + '\n');
        log.info(`ldirectord for ${file} is running with pid: ${running}`);
        log.info('Exiting from ldirectord status');
        if (cfg) for (const child of cfg.global.execute) await runSelf([child, 'status']);
        await log.flush();
        return 0;
      }
      if (pid.filePid !== null) {
        const msg = `ldirectord stale pid file ${pid.path} for ${file}`;
        process.stderr.write(msg + '\n');
        log.info(msg);
      }
      process.stdout.write(`ldirectord is stopped for ${file}\n`);
      await log.flush();
      return pid.filePid !== null ? 1 : 3;
  }
}

function bootLogger(cfg: Config | null, req: ControlRequest, named: string | null = null): DaemonLogger {
  const logfile = cfg?.global.logfile ?? named ?? DEFAULT_LOGFILE;
  return createDirectLogger(
    destinationFor(logfile, { debug: req.opts.debug, supervised: cfg?.global.supervised ?? false }),
    {
      cfgname: req.cfgname,
      debug: req.opts.debug,
      redactor: new Redactor(cfg ?? undefined),
    },
  );
}

/** How long `stop` waits after TERM: the daemon's own stop bound (12 s) and a margin. */
const STOP_WAIT_MS = 12_500;
/** After KILL, how long until the process must be gone. Both stay under the OCF agent's 15 s. */
const KILL_WAIT_MS = 1_500;

/** Why this process may not signal `pid` (EPERM), or null. */
function signalRefused(pid: number): string | null {
  try {
    process.kill(pid, 0);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EPERM' ? code : null;
  }
}

/** Signal the daemon: 0, or the exit status and a message when it cannot be done. */
async function signalDaemon(pid: number, sig: NodeJS.Signals, log: DaemonLogger): Promise<number> {
  try {
    process.kill(pid, sig);
    return 0;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return 0; // gone in between
    const msg = `cannot send ${sig} to ldirectord (pid ${pid}): ${code ?? (e as Error).message}`;
    process.stderr.write(msg + '\n');
    log.error(msg);
    await log.flush();
    return code === 'EPERM' ? EXIT_PRIVILEGE : 1;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (isAlive(pid) && Date.now() < until) await sleep(50);
  return !isAlive(pid);
}

/**
 * TERM the daemon and wait until it has cleaned up and exited; KILL it if it has not
 * after STOP_WAIT_MS. 0 only when the process is gone.
 */
async function terminate(pid: number, log: DaemonLogger): Promise<number> {
  const sent = await signalDaemon(pid, 'SIGTERM', log);
  if (sent !== 0) return sent;
  if (await waitGone(pid, STOP_WAIT_MS)) return 0;
  log.warn(`ldirectord (pid ${pid}) did not stop within ${STOP_WAIT_MS / 1000} s of SIGTERM: sending SIGKILL`);
  const killed = await signalDaemon(pid, 'SIGKILL', log);
  if (killed === 0 && (await waitGone(pid, KILL_WAIT_MS))) {
    await log.flush();
    return 0;
  }
  const msg = `ldirectord (pid ${pid}) is still running after SIGKILL`;
  process.stderr.write(msg + '\n');
  log.error(msg);
  await log.flush();
  return 1;
}

/** How long `start` waits for the daemon to report that it runs with its table (seconds). */
function startTimeoutMs(): number {
  const s = Number(process.env.LDIRECTORD_START_TIMEOUT);
  return Number.isFinite(s) && s > 0 ? Math.min(s, 3600) * 1000 : 25_000;
}

/**
 * start: in the foreground with -d or supervised=yes; otherwise daemonise. Node cannot
 * fork, so the daemon is the same program started again detached (new session, stdio on
 * /dev/null), with the same argv so its command line still reads
 * `<ldirectord> <conf> start` for the OCF agent's pgrep. This process waits until the
 * daemon reports that it runs (pid file written, first reconcile done) and only then
 * exits 0, so `status` right after `start` already sees it.
 */
async function startDaemon(cfg: Config, file: string, req: ControlRequest, log: DaemonLogger): Promise<number> {
  if (req.opts.debug || cfg.global.supervised) {
    const d = await newDaemon(cfg, readFileSync(file), {
      configFile: daemonPath(file),
      cfgname: req.cfgname,
      debug: req.opts.debug,
      dryRun: req.opts.dryRun,
      ipvsadm: req.opts.ipvsadm,
      writePid: !req.opts.debug,
      ownsProcess: true,
      plugins: await defaultPlugins(req, cfg),
    });
    try {
      await d.start();
    } catch (e) {
      const msg = `cannot start ldirectord: ${(e as Error).message}`;
      process.stderr.write(msg + '\n');
      log.error(msg);
      await log.flush();
      return 1;
    }
    for (const child of cfg.global.execute) await runSelf([child, 'start']);
    return d.done;
  }
  // The daemon's command line reads `<ldirectord> [options] <conf> start` whatever command
  // started it (restart too): the OCF agent finds it with pgrep -f "$LDIRECTORD $CONF start".
  const argv = [...req.argv];
  const at = argv.lastIndexOf(req.command);
  if (at >= 0) argv[at] = 'start';
  const timeoutMs = startTimeoutMs();
  type Outcome = { ok: boolean; code: number; message: string };
  const outcome = await new Promise<Outcome>((resolve) => {
    let child: ChildProcess;
    try {
      // In the caller's directory, so that CONFIG and --ipvsadm name the same files for
      // the daemon as for this command; the daemon leaves it for / once it has them.
      child = spawn(process.execPath, [...process.execArgv, absolute(process.argv[1]!), ...argv], {
        detached: true,
        stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
        env: { ...process.env, [DAEMON_ENV]: '3' },
      });
    } catch (e) {
      return resolve({ ok: false, code: 1, message: `cannot start ldirectord: ${(e as Error).message}` });
    }
    let settled = false;
    const pipe = child.stdio[3] as Readable | null;
    const timer = setTimeout(
      () =>
        done({
          ok: false,
          code: 1,
          message:
            `ldirectord (pid ${child.pid}) did not report running with its table within ${timeoutMs / 1000} s;` +
            ' it is left running: `stop` ends it',
        }),
      timeoutMs,
    );
    const done = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.unref();
      pipe?.destroy();
      resolve(o);
    };
    child.on('error', (e) => done({ ok: false, code: 1, message: `cannot start ldirectord: ${e.message}` }));
    child.on('exit', (code, sig) =>
      done({
        ok: false,
        code: code || 1,
        message: `ldirectord exited during start-up with ${sig ? `signal ${sig}` : `status ${code}`}`,
      }),
    );
    if (!pipe) return; // no descriptors for the pipe: 'error' or 'exit' says why
    let text = '';
    pipe.on('error', () => undefined);
    pipe.on('data', (b: Buffer) => {
      text += b.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        try {
          done(JSON.parse(text.slice(0, nl)) as Outcome);
        } catch {
          done({ ok: false, code: 1, message: inert(text.slice(0, nl)) });
        }
      } else if (text.length > 64 * 1024) done({ ok: false, code: 1, message: 'garbled start-up report' });
    });
  });
  if (!outcome.ok) {
    process.stderr.write(outcome.message + '\n');
    log.error(outcome.message);
    await log.flush();
    return outcome.code;
  }
  await log.flush();
  return 0;
}

/**
 * The config file as the daemon keeps it: absolute, since the daemon leaves the caller's
 * directory and every reload must find the same file (the original kept `./my.cf` and lost
 * it at its first reload). Messages keep the name the operator typed, as the original's.
 */
const daemonPath = (file: string) => absolute(file);

/** Report start-up success or failure to the waiting parent over fd 3. */
function reportToParent(msg: { ok: boolean; code: number; message: string }): void {
  try {
    writeSync(3, JSON.stringify(msg) + '\n');
  } catch {
    // parent gone
  }
}

async function runDaemonChild(cfg: Config, file: string, req: ControlRequest): Promise<number> {
  let d: Daemon;
  // A daemon keeps no directory busy (an unmountable /home); its paths are absolute by now.
  const ipvsadm = req.opts.ipvsadm === null ? null : absolute(req.opts.ipvsadm);
  const configFile = daemonPath(file);
  process.chdir('/');
  try {
    d = await newDaemon(cfg, readFileSync(configFile), {
      configFile,
      cfgname: req.cfgname,
      debug: false,
      dryRun: req.opts.dryRun,
      ipvsadm,
      writePid: true,
      ownsProcess: true,
      plugins: await defaultPlugins(req, cfg),
      onReady: () => reportToParent({ ok: true, code: 0, message: 'started' }),
    });
    await d.start();
  } catch (e) {
    reportToParent({ ok: false, code: 1, message: (e as Error).message });
    return 1;
  }
  for (const child of cfg.global.execute) await runSelf([child, 'start']);
  return d.done;
}

/** Run this program again (execute= instances): `ldirectord <conf> <cmd>`. */
function runSelf(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [process.argv[1]!, ...args], {
      stdio: 'inherit',
      env: { ...process.env, [DAEMON_ENV]: undefined } as NodeJS.ProcessEnv,
    });
    c.on('exit', (code) => resolve(code ?? 1));
    c.on('error', () => resolve(1));
  });
}
