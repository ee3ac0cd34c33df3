/**
 * `ldirectord --dry-run [--json] CONFIG`: what would the daemon do right now?
 *
 * Reads the kernel table (`ipvsadm -S -n`; if ipvsadm or IPVS is unavailable it says so
 * and plans against an empty table), runs one round of every check against the real
 * servers, and prints the plan with the daemon's own planner and diff:
 *   stdout  only the commands, in `ipvsadm -R` syntax, so `… | ipvsadm -R` applies them
 *   stderr  a summary per virtual: reals up/down with the check's reason, quiesced, the
 *           fallback, virtuals added/changed/removed, services left alone
 *   --json  one document on stdout: {"commands": [argv…], "virtuals": […]}
 * Exit 0 when nothing would change, 1 when there is a plan, 2 on a config error. Nothing
 * is changed.
 *
 * When a daemon is running for the same config name, the services it manages are asked
 * for (status socket), so services it would purge on reload show up as removals too.
 */
import { runProbe } from '../checks/run';
import type { CheckResult } from '../checks/kernel';
import { ConfigError, formatWarning, hostPort, type Config, type VirtualService } from '../parser/model';
import { locateConfig, daemonHostname } from '../parser/locate';
import { readConfigFile } from '../parser/read-config';
import { systemResolver } from '../parser/resolve';
import { diff, type Op, type Retired } from '../reconcile/diff';
import { Ipvsadm, findIpvsadm } from '../reconcile/ipvsadm';
import { opArgv, restoreLine } from '../reconcile/ops';
import { plan, serviceIdOf, kernelDestKey } from '../reconcile/plan';
import type { Table } from '../reconcile/table';
import { Health } from '../schedule/health';
import { buildProbes, memberKey } from '../schedule/probes';
import { IN_MAINTENANCE, Maintenance } from '../schedule/maintenance';
import { CHECKTYPE_ON } from '../schedule/scheduler';
import { maxChecksInFlight } from '../daemon/limits';
import { Redactor } from '../daemon/redact';
import type { GlobalOptions } from './args';
import { cfgName } from './args';
import { queryDaemon } from '../daemon/status-client';

export interface DryRunResult {
  commands: string[][];
  ops: Op[];
  table: Table;
  unavailable: string | null;
  virtuals: object[];
}

export async function runDryRun(config: string, opts: GlobalOptions): Promise<number> {
  const file = locateConfig(config);
  if (file === null) {
    process.stderr.write(`Config file ${config} not found\n`);
    return 2;
  }
  let cfg: Config;
  try {
    cfg = await readConfigFile(file, { resolver: systemResolver(), hostname: daemonHostname(), checkFiles: false });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (opts.json) process.stdout.write(JSON.stringify({ error: { line: e.line, message: e.detail } }) + '\n');
    process.stderr.write(e.message + '\n');
    return 2;
  }
  for (const w of cfg.warnings) process.stderr.write(formatWarning(file, w) + '\n');
  const managed = await queryDaemon(cfgName(config, true), 'managed').catch(() => null);
  const r = await dryRun(cfg, {
    ipvsadm: opts.ipvsadm,
    managed: (managed as { services?: Retired[] } | null)?.services ?? [],
  });
  const redactor = new Redactor(cfg);
  if (opts.json) {
    process.stdout.write(
      redactor.redact(
        JSON.stringify(
          {
            commands: r.commands,
            virtuals: r.virtuals,
            ipvsadm: r.unavailable ? { unavailable: r.unavailable } : { ok: true },
          },
          null,
          2,
        ),
      ) + '\n',
    );
  } else {
    for (const c of r.commands) process.stdout.write(restoreLine(c) + '\n');
    process.stderr.write(redactor.redact(summary(cfg, r)));
  }
  return r.commands.length ? 1 : 0;
}

export async function dryRun(
  cfg: Config,
  opts: { ipvsadm: string | null; managed?: Retired[] },
): Promise<DryRunResult> {
  const ipvs = new Ipvsadm(findIpvsadm(opts.ipvsadm));
  let table: Table = new Map();
  let unavailable: string | null = null;
  try {
    table = await ipvs.read({ thresholds: true });
  } catch (e) {
    unavailable = (e as Error).message;
  }
  const probes = buildProbes(cfg);
  const health = new Health();
  // As the daemon at start: what the kernel serves is adopted, the rest waits for its check.
  health.sync(
    probes,
    (m, probe) => {
      const dest = table.get(serviceIdOf(m.v).key)?.dests.get(kernelDestKey(m.v, m.r.address, m.r.port, m.r.forward));
      if (dest && dest.weight > 0) return 'up';
      return probe === null ? 'down' : 'pending';
    },
    Date.now(),
  );
  const maintenance = new Maintenance(cfg.global.maintenancedir);
  await maintenance.prepare(cfg.virtuals.flatMap((v) => v.reals.map((r) => r.address)));
  // One round of every check, all at once (bounded like the daemon's).
  const results = new Map<string, { result: CheckResult; forced: boolean }>();
  const queue = [...probes.probes.values()];
  const limit = maxChecksInFlight();
  const worker = async () => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      let result: CheckResult;
      let forced = false;
      if (maintenance.has(p.address, p.port)) {
        result = IN_MAINTENANCE;
        forced = true;
      } else if (p.watch.mode === 'on') result = CHECKTYPE_ON;
      else result = await runProbe(p.watch.mode === 'combined' ? p.watch.negotiate : p.watch.spec);
      results.set(p.key, { result, forced });
      health.record(p.key, result, Date.now(), forced);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, worker));
  const desired = plan(cfg.virtuals, health.view(), { readdquiescent: cfg.global.readdquiescent });
  const keep = new Set(desired.keys());
  const retire = (opts.managed ?? []).filter((r) => !keep.has(r.svc.key)).map((r) => ({ ...r, why: 'start' as const }));
  const ops = diff(desired, table, retire);
  const commands = ops.map(opArgv);
  const virtuals = cfg.virtuals.map((v) => describeVirtual(v, health, results, table, ops));
  const left = [...table.values()].filter((s) => !keep.has(s.key) && !retire.some((r) => r.svc.key === s.key));
  virtuals.push(...left.map((s) => ({ id: s.key, action: 'left alone', reason: 'not in this configuration' })));
  return { commands, ops, table, unavailable, virtuals };
}

function describeVirtual(
  v: VirtualService,
  health: Health,
  results: Map<string, { result: CheckResult }>,
  table: Table,
  ops: Op[],
): object {
  const id = serviceIdOf(v);
  const view = health.view();
  const mine = ops.filter((o) => (o.kind === 'deleteService' ? o.svc.key : o.svc.key) === id.key);
  const action = mine.some((o) => o.kind === 'addService')
    ? 'add'
    : mine.some((o) => o.kind === 'editService')
      ? 'change'
      : mine.length
        ? 'update reals'
        : 'unchanged';
  const reals = v.reals.map((r, i) => {
    const mh = health.members.get(memberKey(v, r));
    const res = mh?.probe ? results.get(mh.probe)?.result : undefined;
    const key = kernelDestKey(v, r.address, r.port, r.forward);
    const kernel = table.get(id.key)?.dests.get(key) ?? null;
    const state = view(v, i).state;
    return {
      real: hostPort(r.address, r.port),
      state,
      reason: res?.reason ?? (v.checktype === 'off' ? 'checktype off' : null),
      ms: res?.ms ?? null,
      weight: r.weight,
      kernelWeight: kernel ? kernel.weight : null,
      quiesced: state !== 'up' && v.quiescent,
    };
  });
  const anyUp = reals.some((r) => r.state === 'up');
  return {
    id: v.id,
    service: id.key,
    action,
    reals,
    fallback: v.fallback ? { server: `${v.fallback.address}:${v.fallback.port}`, active: !anyUp } : null,
  };
}

interface SummaryVirtual {
  id: string;
  action: string;
  reason?: string;
  reals?: Array<{
    real: string;
    state: string;
    weight: number;
    quiesced: boolean;
    reason: string | null;
    kernelWeight: number | null;
  }>;
  fallback?: { server: string; active: boolean } | null;
}

function summary(cfg: Config, r: DryRunResult): string {
  const out: string[] = [];
  if (r.unavailable) out.push(`ipvsadm unavailable (${r.unavailable}): planning against an empty table`);
  for (const v of r.virtuals as SummaryVirtual[]) {
    if (v.action === 'left alone') {
      out.push(`${v.id}: left alone (${v.reason})`);
      continue;
    }
    out.push(`${v.id}: ${v.action}`);
    for (const real of v.reals ?? []) {
      const w = real.state === 'up' ? `weight ${real.weight}` : real.quiesced ? 'quiesced (weight 0)' : 'out';
      out.push(
        `  ${real.state === 'up' ? 'up  ' : 'down'} ${real.real} ${w}${real.reason ? `: ${real.reason}` : ''}${real.kernelWeight === null ? ' [not in kernel]' : ` [kernel weight ${real.kernelWeight}]`}`,
      );
    }
    if (v.fallback) out.push(`  fallback ${v.fallback.server}: ${v.fallback.active ? 'in (no real up)' : 'out'}`);
  }
  for (const o of r.ops)
    if (o.kind === 'deleteService') out.push(`${o.svc.key}: remove (no longer in the configuration)`);
  out.push(
    r.commands.length
      ? `${r.commands.length} change(s) planned (stdout, ipvsadm -R format); nothing was changed`
      : 'nothing to change',
  );
  void cfg;
  return out.join('\n') + '\n';
}
