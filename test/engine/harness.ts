/**
 * Engine test harness: fake time, the fake kernel, and real servers replaced by a switch
 * per address (these tests are about planning and reconciling, not about checks, which
 * test/checks exercises against real servers).
 */
import { Engine, type EngineEvent } from '../../src/engine/engine';
import type { CheckResult } from '../../src/checks/kernel';
import type { ProbeSpec } from '../../src/checks/registry';
import { FakeClock } from '../../src/testing/fake-clock';
import { FakeIpvs } from '../helpers/fake-ipvs';
import { config } from '../helpers/config';

export type ServerState = 'up' | 'down' | 'hang';

export interface Harness {
  clock: FakeClock;
  ipvs: FakeIpvs;
  engine: Engine;
  logs: string[];
  events: EngineEvent[];
  checks: string[];
  servers: Map<string, ServerState>;
  fallbackRuns: string[][];
  /** Active connections the kernel reports per `<serviceKey>|<destKey>` (drains wait for them). */
  connections: Map<string, number>;
  /** Advance fake time by ms. */
  tick(ms: number): Promise<void>;
}

export async function harness(
  text: string,
  opts: {
    table?: string[];
    servers?: Record<string, ServerState>;
    reverseName?: (a: string) => Promise<string | null>;
    random?: () => number;
  } = {},
): Promise<Harness & { cfg: Awaited<ReturnType<typeof config>> }> {
  const cfg = await config(text);
  const clock = new FakeClock();
  const ipvs = new FakeIpvs();
  if (opts.table) ipvs.hand(...opts.table);
  const logs: string[] = [];
  const events: EngineEvent[] = [];
  const checks: string[] = [];
  const fallbackRuns: string[][] = [];
  const connections = new Map<string, number>();
  const servers = new Map<string, ServerState>(Object.entries(opts.servers ?? {}));
  const runProbe = (spec: ProbeSpec, signal: AbortSignal): Promise<CheckResult> => {
    const host =
      'host' in spec ? spec.host : spec.kind === 'http' ? new URL(spec.url).hostname.replace(/^\[|\]$/g, '') : null;
    checks.push(`${spec.kind} ${host ?? ''}`);
    if (spec.kind === 'none') return Promise.resolve({ up: true, cause: 'ok', reason: 'none', ms: 0 });
    const state = host ? (servers.get(host) ?? 'down') : 'down';
    if (state === 'hang') {
      return new Promise((resolve) => {
        const t = clock.setTimeout(
          () =>
            resolve({
              up: false,
              cause: 'timeout',
              reason: `timed out after ${spec.timeoutMs / 1000} s`,
              ms: spec.timeoutMs,
            }),
          spec.timeoutMs,
        );
        signal.addEventListener('abort', () => {
          clock.clearTimeout(t);
          resolve({ up: false, cause: 'stopped', reason: 'stopped', ms: 0 });
        });
      });
    }
    return Promise.resolve(
      state === 'up'
        ? { up: true, cause: 'ok', reason: 'HTTP 200 OK', ms: 1 }
        : { up: false, cause: 'refused', reason: 'connect ECONNREFUSED', ms: 1 },
    );
  };
  const engine = new Engine({
    clock,
    ipvs,
    log: {
      info: (m) => logs.push(m),
      warn: (m) => logs.push('WARN ' + m),
      error: (m) => logs.push('ERROR ' + m),
      debug: () => undefined,
    },
    runProbe,
    maxInFlight: 1000,
    jitter: 0,
    random: opts.random ?? (() => 0.5),
    onEvent: (e) => events.push(e),
    runConfigCommand: (_directive, cmd, args) => fallbackRuns.push([cmd, ...args]),
    reverseName: opts.reverseName,
    activeConnections: () => connections,
  });
  const tick = (ms: number) => clock.advance(ms);
  return { cfg, clock, ipvs, engine, logs, events, checks, servers, fallbackRuns, connections, tick };
}
