/**
 * One side-by-side run: the Perl original and this daemon, each against its own
 * recording ipvsadm, on the same config, the same real servers and the same fault
 * script. After each step of the script both tables are left to settle, then compared:
 *
 *   settled = neither table has changed, and neither daemon has run a table-changing
 *   ipvsadm command, for `quietMs` (a few check intervals), within a bounded deadline.
 *
 * At each checkpoint this daemon's table must equal Perl's, except for the documented
 * deliberate differences the scenario declares (compare.ts, Deliberate), which are
 * asserted exactly: Perl must show the original behaviour and this daemon the fix.
 * The grepped log lines of the phase are compared the same way (Perl's flap phases
 * reduced first, W-2). A failure shows both tables, both phase logs with their ipvsadm
 * commands, and the state of every real server.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealServers } from '../helpers/real-servers';
import {
  expectFromPerl,
  formatTable,
  grepped,
  messageOf,
  multisetDiff,
  normalizeState,
  reduceFlap,
  type Deliberate,
  type NTable,
} from './compare';
import { OurSide, PerlSide, type CmdResult, type Side } from './sides';

export interface Ctx {
  servers: RealServers;
  perl: PerlSide;
  ours: OurSide;
  sides: [PerlSide, OurSide];
  /** Run the same command on both daemons; their exit codes and outputs must agree. */
  both(cmd: string): Promise<[CmdResult, CmdResult]>;
  /** start on both, then wait for both daemons to run. */
  start(): Promise<void>;
  /** Write a new config on both sides and run `reload` on both. */
  reload(config: string): Promise<void>;
  /** stop on both, then wait for both daemons to have exited. */
  stop(): Promise<void>;
  /** Stop (close) / start real servers by `ip:port`. */
  down(...names: string[]): Promise<void>;
  up(...names: string[]): Promise<void>;
  /** Compare `status` on both: exit code `code` and the same texts (paths and pids named). */
  status(code: number, what: string): Promise<void>;
  /** Run `status` on both; results with paths and pids named (for declared differences). */
  statusOf(): Promise<{ perl: NormResult; ours: NormResult }>;
  /** Send a signal straight to both daemons (by the pid each side started). */
  signal(sig: NodeJS.Signals): void;
  /** Change both tables by hand, as an operator would (each line one ipvsadm command). */
  hand(...lines: string[]): void;
  /** Leave a stale pid file where each daemon looks (the pid of a process that has exited). */
  stale(): void;
  /** Record a problem without stopping the run. */
  problem(text: string): void;
}

/** A command's result with the config path, pid file path and pids replaced by names. */
export interface NormResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Step {
  name: string;
  act(ctx: Ctx): Promise<void>;
  /** Perl flaps in this phase (start, reload): reduce its log lines first (W-2). */
  flap?: boolean;
  /** An anchor: this daemon's table at this checkpoint, exactly (beyond equality with Perl). */
  ours?: string[];
  /**
   * Whether this daemon's table must differ from the previous checkpoint's (default: yes;
   * false for a step after which nothing changes). Guards against comparing two tables
   * neither daemon has updated yet.
   */
  moves?: boolean;
}

export interface Scenario {
  /** Short name, used in the cfgname (`<name>-<pid>-<n>.cf`). */
  name: string;
  config: string;
  servers: (rs: RealServers) => void;
  /** Rules in both tables before start (services the daemons do not manage). */
  seed?: string[];
  steps: Step[];
  deliberate?: Deliberate[];
  /** Check interval of the config, in seconds (settling waits a few of them). */
  checkinterval?: number;
  /**
   * How long both tables must stay unchanged to count as settled. It must exceed the
   * time a fault takes to show (failurecount checks); default 3 check intervals + 2 s.
   */
  quietMs?: number;
  /** Start what the real servers need (a database); returns its teardown. */
  setup?: (rs: RealServers) => Promise<() => Promise<void>>;
}

export interface Outcome {
  problems: string[];
  /** Per checkpoint: what was compared, and the deliberate differences seen. */
  notes: string[];
  elapsedMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let counter = 0;

interface Mark {
  log: number;
  ipvs: number;
}

function mark(s: Side): Mark {
  return { log: s.logRaw().length, ipvs: s.ipvsMutations().length };
}

/** Table + table-changing commands: what "has not changed" means. */
function fingerprint(s: Side): string {
  const st = s.state();
  return `${st.save}|${JSON.stringify(st.thresholds ?? {})}|${s.ipvsMutations().length}`;
}

export async function settle(
  sides: Side[],
  opts: { quietMs: number; deadlineMs: number },
): Promise<{ ok: boolean; waitedMs: number }> {
  const t0 = Date.now();
  const last = sides.map(fingerprint);
  const changedAt = sides.map(() => t0);
  for (;;) {
    await sleep(100);
    const now = Date.now();
    sides.forEach((s, i) => {
      const f = fingerprint(s);
      if (f !== last[i]) {
        last[i] = f;
        changedAt[i] = now;
      }
    });
    if (changedAt.every((c) => now - c >= opts.quietMs)) return { ok: true, waitedMs: now - t0 };
    if (now - t0 > opts.deadlineMs) return { ok: false, waitedMs: now - t0 };
  }
}

function indent(lines: string[], n = 6, max = 60): string {
  const shown = lines.length > max ? [`… ${lines.length - max} earlier lines`, ...lines.slice(-max)] : lines;
  return shown.length ? shown.map((l) => ' '.repeat(n) + l).join('\n') : ' '.repeat(n) + '(none)';
}

export async function runScenario(sc: Scenario): Promise<Outcome> {
  const t0 = Date.now();
  const base = mkdtempSync(join(tmpdir(), 'ldcompat-'));
  const cfgname = `${sc.name}-${process.pid}-${++counter}.cf`;
  const perl = new PerlSide(base, cfgname);
  const ours = new OurSide(base, cfgname);
  const sides: [PerlSide, OurSide] = [perl, ours];
  const servers = new RealServers();
  sc.servers(servers);
  const problems: string[] = [];
  const notes: string[] = [];
  const interval = (sc.checkinterval ?? 1) * 1000;
  const quietMs = sc.quietMs ?? 3 * interval + 2000;
  let stepName = '';

  const normStatus = (s: Side, r: CmdResult): NormResult => {
    const n = (t: string) =>
      t
        .split(s.config)
        .join('<CONFIG>')
        .split(s.pidFile)
        .join('<PIDFILE>')
        .replace(/pid: \d+/g, 'pid: <PID>');
    return { code: r.code, stdout: n(r.stdout), stderr: n(r.stderr) };
  };

  const ctx: Ctx = {
    servers,
    perl,
    ours,
    sides,
    async both(cmd) {
      const [p, o] = await Promise.all([perl.command(cmd), ours.command(cmd)]);
      return [p, o];
    },
    async start() {
      const [p, o] = await ctx.both('start');
      if (p.code !== 0 || o.code !== 0)
        ctx.problem(
          `start: exit codes perl ${p.code} ours ${o.code}\n    perl stderr: ${p.stderr}\n    ours stderr: ${o.stderr}`,
        );
      try {
        await Promise.all(sides.map((s) => s.waitRunning()));
      } catch (e) {
        // Nothing to compare without both daemons: stop here, saying why.
        const out = (r: CmdResult) =>
          `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}, stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`;
        throw new Error(
          `${(e as Error).message}\n    perl start: ${out(p)}\n    ours start: ${out(o)}\n` +
            `    Perl log:\n${indent(perl.logRaw().map(messageOf), 6, 20)}\n    our log:\n${indent(ours.logRaw().map(messageOf), 6, 20)}`,
        );
      }
    },
    async reload(config) {
      for (const s of sides) s.writeConfig(config);
      const [p, o] = await ctx.both('reload');
      if (p.code !== 0 || o.code !== 0)
        ctx.problem(
          `reload: exit codes perl ${p.code} ours ${o.code}\n    perl stderr: ${p.stderr}\n    ours stderr: ${o.stderr}`,
        );
    },
    async stop() {
      const [p, o] = await ctx.both('stop');
      if (p.code !== 0 || o.code !== 0) ctx.problem(`stop: exit codes perl ${p.code} ours ${o.code}`);
      await Promise.all(sides.map((s) => s.waitStopped()));
    },
    async down(...names) {
      await Promise.all(names.map((n) => servers.get(n).stop()));
    },
    async up(...names) {
      await Promise.all(names.map((n) => servers.get(n).start()));
    },
    async statusOf() {
      const [p, o] = await ctx.both('status');
      return { perl: normStatus(perl, p), ours: normStatus(ours, o) };
    },
    signal(sig) {
      for (const s of sides) {
        if (s.pid === null) throw new Error(`${s.label}: no daemon started to signal`);
        process.kill(s.pid, sig);
      }
    },
    hand(...lines) {
      for (const s of sides) for (const l of lines) execFileSync(s.ipvsadm, l.split(/\s+/), { encoding: 'utf8' });
    },
    async status(code, what) {
      const { perl: np, ours: no } = await ctx.statusOf();
      if (np.code !== code)
        ctx.problem(`status (${what}): Perl exited ${np.code}, the test expects ${code}: ${JSON.stringify(np)}`);
      if (JSON.stringify(np) !== JSON.stringify(no)) {
        ctx.problem(`status (${what}) differs:\n    perl: ${JSON.stringify(np)}\n    ours: ${JSON.stringify(no)}`);
      } else
        notes.push(
          `${stepName}: status (${what}) equal: exit ${no.code} ${JSON.stringify((no.stderr + no.stdout).trim())}`,
        );
    },
    stale() {
      const dead = spawnSync('true').pid;
      for (const s of sides) writeFileSync(s.pidFile, `${dead}\n`);
    },
    problem(text) {
      problems.push(`[${sc.name} / ${stepName}] ${text}`);
    },
  };

  let teardown: (() => Promise<void>) | null = null;
  try {
    for (const s of sides) {
      s.prepare(sc.seed ?? []);
      s.writeConfig(sc.config);
    }
    if (sc.setup) teardown = await sc.setup(servers);
    await servers.startAll();
    let previous: NTable | null = null;
    for (const step of sc.steps) {
      stepName = step.name;
      const marks = sides.map(mark);
      await step.act(ctx);
      // Compare once settled. A difference, or a fault step after which this daemon's table
      // has not moved, may only mean a daemon has not seen the fault yet on a loaded
      // machine: settle once more (up to twice) before reporting. A real difference stays.
      let found: string[] = [];
      let summary = '';
      let waited = 0;
      for (let round = 0; round < 3; round++) {
        const st = await settle(sides, { quietMs, deadlineMs: 60000 });
        waited += st.waitedMs;
        const r = compareStep(sc, step, sides, marks, servers, quietMs, st.ok);
        found = r.problems;
        summary = r.summary;
        const stale = step.moves !== false && previous !== null && sameLines(previous, r.ours);
        if (!found.length && !stale) break;
        if (stale && !found.length)
          found = [`this daemon's table did not change after the step (the step says it must):\n${r.report}`];
      }
      for (const p of found) ctx.problem(p);
      previous = normalizeState(ours.state());
      notes.push(`${step.name}: settled after ${(waited / 1000).toFixed(1)} s; ${summary}`);
    }
  } finally {
    await servers.stopAll();
    for (const s of sides) s.cleanup();
    if (teardown) await teardown().catch((e: Error) => notes.push(`teardown failed: ${e.message}`));
    if (problems.length === 0 && process.env.LDIRECTORD_COMPAT_KEEP !== '1')
      rmSync(base, { recursive: true, force: true });
    else notes.push(`files kept in ${base}`);
  }
  return { problems, notes, elapsedMs: Date.now() - t0 };
}

const sameLines = (a: NTable, b: NTable) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Compare one checkpoint: tables, anchors, grepped log lines (see the file comment). */
function compareStep(
  sc: Scenario,
  step: Step,
  sides: [PerlSide, OurSide],
  marks: Mark[],
  servers: RealServers,
  quietMs: number,
  settled: boolean,
): { problems: string[]; summary: string; ours: NTable; report: string } {
  const tables = sides.map((s) => normalizeState(s.state())) as [NTable, NTable];
  const phaseLog = sides.map((s, i) => s.logRaw().slice(marks[i]!.log));
  const phaseIpvs = sides.map((s, i) => s.ipvsMutations().slice(marks[i]!.ipvs));
  const report = [
    `    real servers: ${servers.describe()}`,
    `    Perl table:\n${formatTable(tables[0])}`,
    `    our table:\n${formatTable(tables[1])}`,
    `    Perl log (this step):\n${indent(phaseLog[0]!.map(messageOf))}`,
    `    our log (this step):\n${indent(phaseLog[1]!.map(messageOf))}`,
    `    Perl ipvsadm commands (this step):\n${indent(phaseIpvs[0]!)}`,
    `    our ipvsadm commands (this step):\n${indent(phaseIpvs[1]!)}`,
  ].join('\n');
  const problems: string[] = [];
  if (!settled) problems.push(`the tables did not settle within 60 s (quiet ${quietMs} ms wanted)\n${report}`);
  const here = (sc.deliberate ?? []).filter((d) => d.at.includes(step.name));
  // Tables.
  const t = expectFromPerl(
    tables[0],
    here.filter((d) => d.table).map((d) => ({ ref: d.ref, ...d.table! })),
    'table',
  );
  const td = multisetDiff(t.expected, tables[1]);
  for (const p of t.problems) problems.push(`${p}\n${report}`);
  if (td.onlyA.length || td.onlyB.length) {
    problems.push(
      `the tables differ${here.some((d) => d.table) ? ' (beyond the declared deliberate differences)' : ''}:\n` +
        `    expected from Perl, missing in ours:\n${indent(td.onlyA, 8)}\n    in ours, not expected:\n${indent(td.onlyB, 8)}\n${report}`,
    );
  }
  if (step.ours) {
    const ad = multisetDiff(step.ours, tables[1]);
    if (ad.onlyA.length || ad.onlyB.length)
      problems.push(
        `our table is not the expected one:\n    missing:\n${indent(ad.onlyA, 8)}\n    unexpected:\n${indent(ad.onlyB, 8)}\n${report}`,
      );
  }
  // Grepped log lines.
  const perlLines = step.flap ? reduceFlap(grepped(phaseLog[0]!)) : grepped(phaseLog[0]!);
  const ourLines = grepped(phaseLog[1]!);
  const l = expectFromPerl(
    perlLines,
    here.filter((d) => d.log).map((d) => ({ ref: d.ref, ...d.log! })),
    'log',
  );
  const ld = multisetDiff(l.expected, ourLines);
  for (const p of l.problems) problems.push(`${p}\n${report}`);
  if (ld.onlyA.length || ld.onlyB.length) {
    problems.push(
      `the grepped log lines differ${step.flap ? ' (Perl reduced for its flap, W-2)' : ''}:\n` +
        `    expected from Perl, missing in ours:\n${indent(ld.onlyA, 8)}\n    in ours, not expected:\n${indent(ld.onlyB, 8)}\n${report}`,
    );
  }
  const diffs = here.map((d) => d.ref).join('; ');
  return {
    problems,
    report,
    ours: tables[1],
    summary: `table ${tables[1].length} lines, log ${ourLines.length} lines compared${diffs ? `; deliberate: ${diffs}` : ''}`,
  };
}
