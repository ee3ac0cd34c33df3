/**
 * `ldirectord --dry-run [--json] CONFIG`: what would the daemon do right now?
 *
 * The engine itself runs, as the daemon would start it, against an ipvsadm that reads the
 * real table and writes nothing (DryRunIpvs: if ipvsadm or IPVS is unavailable it says so
 * and plans against an empty table). Every real is checked once, the engine reconciles,
 * and what it ran is the plan:
 *   stdout  only the commands, in `ipvsadm -R` syntax, so `… | ipvsadm -R` applies them
 *   stderr  a summary per virtual (the read model, engine/view.ts): reals up/down with
 *           the check's reason, quiesced, the fallback, what changes, services left alone
 *   --json  one document on stdout: {"commands": [argv…], "virtuals": […], …}
 * Exit 0 when nothing would change, 1 when there is a plan, 2 on a config error. Nothing
 * is changed.
 *
 * When a daemon is running for the same config name (or the one `--against CONFIG` names),
 * the services it manages are asked for (status socket), so services it would purge on
 * reload show up as removals too, and the summary says when that daemon runs another file
 * (it would undo a plan applied by hand).
 */
import { readState, stateFilePath } from '../daemon/state-file';
import type { PolicyState } from '../reconcile/policy';
import { connectionsNow } from '../reconcile/proc-ip-vs';
import { resolve } from 'node:path';
import { releaseSpec } from '../checks/registry';
import { runProbe } from '../checks/run';
import { maxChecksInFlight } from '../daemon/limits';
import { Redactor } from '../daemon/redact';
import { query, type Answers } from '../daemon/status-protocol';
import { Engine } from '../engine/engine';
import { viewOf, type VirtualView } from '../engine/view';
import { loadConfig, locateConfig } from '../parser/load';
import { ConfigError, formatWarning, type Config } from '../parser/model';
import type { Op, Retired } from '../reconcile/diff';
import { DryRunIpvs, Ipvsadm, findIpvsadm } from '../reconcile/ipvsadm';
import { restoreLine } from '../reconcile/ops';
import { realClock } from '../schedule/clock';
import type { Logger } from '../util/log';
import { cfgName, type GlobalOptions } from './args';

/** What a virtual's plan does to it. */
export type PlanAction = 'add' | 'change' | 'update reals' | 'unchanged';

export interface DryRunResult {
  commands: string[][];
  /** The read model against the table as it is now, with what the plan does to each. */
  virtuals: Array<VirtualView & { action: PlanAction }>;
  /** Services the plan removes (a running daemon's that this config no longer names). */
  removed: string[];
  /** Services in the kernel that neither config manages: left alone. */
  leftAlone: string[];
  unavailable: string | null;
  /** The config a running daemon still runs, when it is not the candidate: it would undo a hand-applied plan. */
  runningOther?: string;
}

export async function runDryRun(config: string, opts: GlobalOptions): Promise<number> {
  const file = locateConfig(config);
  if (file === null) {
    process.stderr.write(`Config file ${config} not found\n`);
    return 2;
  }
  let cfg: Config;
  try {
    cfg = await loadConfig(file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (opts.json) process.stdout.write(JSON.stringify({ error: { line: e.line, message: e.detail } }) + '\n');
    process.stderr.write(e.message + '\n');
    return 2;
  }
  for (const w of cfg.warnings) process.stderr.write(formatWarning(file, w) + '\n');
  const managed = await runningDaemon(opts.against ?? config);
  if (opts.against !== null && managed === null) {
    process.stderr.write(`--against ${opts.against}: no ldirectord is running for it\n`);
    return 2;
  }
  // The running daemon's drains and slow starts are part of what it would do (state-file.ts).
  const policy = readState(stateFilePath(cfgName(opts.against ?? config, true))).state;
  const r = await dryRun(cfg, { ipvsadm: opts.ipvsadm, managed: managed?.services ?? [], policy });
  // A plan applied by hand while a daemon runs another file is undone at its next
  // reconcile: the preview says so, and how to make the candidate stick.
  if (managed && managed.config !== resolve(file)) r.runningOther = managed.config;
  const redactor = new Redactor(cfg);
  if (opts.json) {
    const ipvsadm = r.unavailable ? { unavailable: r.unavailable } : { ok: true };
    process.stdout.write(redactor.redact(JSON.stringify({ ...r, unavailable: undefined, ipvsadm }, null, 2)) + '\n');
  } else {
    for (const c of r.commands) process.stdout.write(restoreLine(c) + '\n');
    process.stderr.write(redactor.redact(summary(r)));
  }
  return r.commands.length ? 1 : 0;
}

/**
 * The running daemon whose table a reload to the candidate would change: the one of CONFIG's
 * name (`ldirectord start` runs as "ldirectord", the name of ldirectord.cf alone).
 */
async function runningDaemon(config: string): Promise<Answers['managed'] | null> {
  const names = [cfgName(config, true)];
  if (names[0] === 'ldirectord.cf') names.push(cfgName(config, false));
  for (const name of names) {
    const answer = await query(name, 'managed', 2000).catch(() => null);
    if (answer) return answer;
  }
  return null;
}

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

/** Run the engine on `cfg` without writing, until every real has had its first check. */
export async function dryRun(
  cfg: Config,
  opts: { ipvsadm: string | null; managed?: Retired[]; policy?: PolicyState },
): Promise<DryRunResult> {
  const ipvs = new DryRunIpvs(new Ipvsadm(findIpvsadm(opts.ipvsadm)));
  const ops: Op[] = [];
  const checked = new Set<string>();
  let allChecked: () => void = () => undefined;
  const everyProbe = new Promise<void>((resolve) => (allChecked = resolve));
  const engine: Engine = new Engine({
    clock: realClock,
    ipvs,
    log: quiet,
    runProbe,
    releaseProbe: releaseSpec,
    maxInFlight: maxChecksInFlight(),
    checkAllAtStart: true,
    activeConnections: () => connectionsNow(),
    onEvent: (e) => {
      if (e.type === 'applied') ops.push(e.op);
      if (e.type !== 'check') return;
      checked.add(e.probe.key);
      if (checked.size >= engine.probeCount) allChecked();
    },
  });
  if (opts.policy) engine.restorePolicy(opts.policy);
  // The engine's timers do not keep a process alive (realClock unrefs them, for the daemon):
  // without this, a dry-run whose stdin is not a terminal ended silently, with status 0,
  // while it waited for its checks.
  const alive = setInterval(() => undefined, 1 << 30);
  try {
    await engine.start(cfg, opts.managed ?? []);
    if (engine.probeCount > 0) await everyProbe;
  } finally {
    clearInterval(alive);
  }
  // The results of the last checks are applied by one more reconcile.
  await engine.reconcileNow();
  const t = Date.now();
  const now = viewOf({ virtuals: cfg.virtuals, health: engine.health, table: ipvs.initial, startedAt: t, now: t });
  await engine.stop({ leaveTable: true });
  // A virtual's Perl id is its kernel service key (`tcp:10.0.0.1:80`, `fwm:5`).
  const virtuals = now.map((v) => {
    const mine = ops.filter((o) => o.svc.key === v.id);
    const action: PlanAction = mine.some((o) => o.kind === 'addService')
      ? 'add'
      : mine.some((o) => o.kind === 'editService')
        ? 'change'
        : mine.length
          ? 'update reals'
          : 'unchanged';
    return { ...v, action };
  });
  const removed = ops.flatMap((o) => (o.kind === 'deleteService' ? [o.svc.key] : []));
  const named = new Set([...virtuals.map((v) => v.id), ...removed]);
  const leftAlone = [...ipvs.initial.keys()].filter((k) => !named.has(k));
  return { commands: ipvs.commands, virtuals, removed, leftAlone, unavailable: ipvs.unavailable };
}

function summary(r: DryRunResult): string {
  const out: string[] = [];
  if (r.unavailable) out.push(`ipvsadm unavailable (${r.unavailable}): planning against an empty table`);
  for (const v of r.virtuals) {
    out.push(`${v.id}: ${v.action}`);
    for (const real of v.reals) {
      const up = real.state === 'up';
      const w = up ? `weight ${real.weight}` : v.quiescent ? 'quiesced (weight 0)' : 'out';
      const kernel = real.kernelWeight === null ? ' [not in kernel]' : ` [kernel weight ${real.kernelWeight}]`;
      out.push(`  ${up ? 'up  ' : 'down'} ${real.real} ${w}${real.lastReason ? `: ${real.lastReason}` : ''}${kernel}`);
    }
    if (v.fallback) out.push(`  fallback ${v.fallback.server}: ${v.fallback.active ? 'in (no real up)' : 'out'}`);
  }
  for (const key of r.removed) out.push(`${key}: remove (no longer in the configuration)`);
  for (const key of r.leftAlone) out.push(`${key}: left alone (not in this configuration)`);
  out.push(
    r.commands.length
      ? `${r.commands.length} change(s) planned (stdout, ipvsadm -R format); nothing was changed`
      : 'nothing to change',
  );
  if (r.runningOther && r.commands.length)
    out.push(
      `note: ldirectord is running ${r.runningOther}: it would undo these commands if applied by hand` +
        ` at its next reconcile; install the candidate as ${r.runningOther} and reload it instead`,
    );
  return out.join('\n') + '\n';
}
