/**
 * The original's commands: start, stop, restart, try-restart, reload, force-reload,
 * status, with its exit codes and texts (spec §1.3), which the OCF resource agent,
 * init scripts and heartbeat depend on.
 *
 * Differences by design (README): `stop` waits (bounded) until the daemon has cleaned up
 * (W-16); `status` and `stop` work from the pid file even when the config is broken, and
 * never delete a running daemon's pid file (W-1); `restart` waits a bounded time.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeSync } from 'node:fs';
import type { DaemonCommand, GlobalOptions } from './args';
import { ConfigError, formatWarning, type Config } from '../parser/model';
import { loadConfig, locateConfig } from '../parser/load';
import type { Daemon, DaemonPlugin } from '../daemon/daemon';
import { createLogger, destinationFor, type DaemonLogger } from '../daemon/logging';
import { isAlive, readPidFile } from '../daemon/pidfile';
import { Redactor } from '../daemon/redact';
import { parseListen } from '../daemon/metrics';

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
  const metrics = req.opts.metrics ?? process.env.LDIRECTORD_METRICS ?? null;
  if (metrics) plugins.push(new (await import('../daemon/metrics.js')).Metrics(parseListen(metrics)));
  return [...plugins, ...(req.plugins?.(cfg) ?? [])];
}

async function newDaemon(...args: ConstructorParameters<typeof Daemon>): Promise<Daemon> {
  const { Daemon: D } = await import('../daemon/daemon.js');
  return new D(...args);
}

const DAEMON_ENV = 'LDIRECTORD_DAEMON_CHILD';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runControl(req: ControlRequest): Promise<number> {
  const metrics = req.opts.metrics ?? process.env.LDIRECTORD_METRICS ?? null;
  if (metrics) {
    try {
      parseListen(metrics);
    } catch (e) {
      process.stderr.write(`${(e as Error).message}\n`);
      return 255;
    }
  }
  const file = locateConfig(req.config);
  if (file === null) {
    const msg = `Config file ${req.config} not found`;
    bootLogger(null, req).info(msg);
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
    return 2;
  }
  if (cfgError && process.env[DAEMON_ENV] !== undefined) {
    reportToParent({ ok: false, code: 2, message: cfgError.message });
    return 2;
  }
  const log = bootLogger(cfg, req);
  if (cfgError)
    process.stderr.write(
      `${cfgError.message.replace(/^Error/, 'Warning')} (the running daemon keeps its configuration)\n`,
    );
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
      if (running !== null) await terminate(running, log);
      return 0;
    case 'restart':
    case 'try-restart':
      if (running === null) return req.command === 'restart' ? startDaemon(cfg!, file, req, log) : 0;
      await terminate(running, log);
      return startDaemon(cfg!, file, req, log);
    case 'reload':
    case 'force-reload':
      if (running === null) {
        log.info(`ldirectord is stopped for ${file}`);
        return 1;
      }
      process.kill(running, 'SIGHUP');
      return 0;
    case 'status':
      if (running !== null) {
        process.stderr.write(`ldirectord for ${file} is running with pid: ${running}\n`);
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

function bootLogger(cfg: Config | null, req: ControlRequest): DaemonLogger {
  const logfile = cfg?.global.logfile ?? '/var/log/ldirectord.log';
  return createLogger(destinationFor(logfile, { debug: req.opts.debug, supervised: cfg?.global.supervised ?? false }), {
    cfgname: req.cfgname,
    debug: req.opts.debug,
    redactor: new Redactor(cfg ?? undefined),
  });
}

/** TERM the daemon and wait (bounded) until it has cleaned up and exited. */
async function terminate(pid: number, log: DaemonLogger): Promise<void> {
  process.kill(pid, 'SIGTERM');
  const until = Date.now() + 14000;
  while (isAlive(pid) && Date.now() < until) await sleep(50);
  if (isAlive(pid)) log.warn(`ldirectord (pid ${pid}) is still stopping after 14 s`);
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
      configFile: file,
      cfgname: req.cfgname,
      debug: req.opts.debug,
      dryRun: req.opts.dryRun,
      ipvsadm: req.opts.ipvsadm,
      writePid: !req.opts.debug,
      plugins: await defaultPlugins(req, cfg),
    });
    await d.start();
    for (const child of cfg.global.execute) await runSelf([child, 'start']);
    return d.done;
  }
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...req.argv], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: { ...process.env, [DAEMON_ENV]: '3' },
    cwd: '/',
  });
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  let text = '';
  const outcome = await new Promise<{ ok: boolean; code: number; message: string }>((resolve) => {
    pipe.on('data', (b: Buffer) => {
      text += b.toString('utf8');
      const line = text.split('\n')[0];
      if (text.includes('\n')) {
        try {
          resolve(JSON.parse(line!));
        } catch {
          resolve({ ok: false, code: 1, message: line! });
        }
      }
    });
    child.on('exit', (code) =>
      resolve({ ok: false, code: code ?? 1, message: `ldirectord exited during start-up with status ${code}` }),
    );
    child.on('error', (e) => resolve({ ok: false, code: 1, message: e.message }));
  });
  child.unref();
  (pipe as unknown as { destroy?: () => void }).destroy?.();
  if (!outcome.ok) {
    process.stderr.write(outcome.message + '\n');
    log.error(outcome.message);
    await log.flush();
    return outcome.code;
  }
  await log.flush();
  return 0;
}

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
  try {
    d = await newDaemon(cfg, readFileSync(file), {
      configFile: file,
      cfgname: req.cfgname,
      debug: false,
      dryRun: req.opts.dryRun,
      ipvsadm: req.opts.ipvsadm,
      writePid: true,
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
