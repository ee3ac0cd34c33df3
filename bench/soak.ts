/**
 * Soak benchmark (issue 8, item 5): 2,000 reals whose servers flap, for an hour of fake
 * time, through the real engine, planner, reconciler and health state machine (the kernel
 * is the ipvsadm simulator, time is a FakeClock). Prints heap, RSS, handles, timers and
 * the engine's own structure sizes at the start and the end: none of them may grow.
 * A benchmark, not a test: it prints and asserts nothing.
 *
 *   node --expose-gc .test-build/bench/soak.js [--hours 1] [--reals 2000] [--flap 0.01]
 */
import { Engine } from '../src/engine/engine';
import type { CheckResult } from '../src/checks/kernel';
import type { ProbeSpec } from '../src/checks/registry';
import { FakeClock } from '../src/testing/fake-clock';
import { FakeIpvs } from '../test/helpers/fake-ipvs';
import { config } from '../test/helpers/config';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

async function main(): Promise<void> {
  const hours = arg('--hours', 1);
  const reals = arg('--reals', 2000);
  const flap = arg('--flap', 0.01); // chance per check that a server changes state
  let text = 'checkinterval=2\nfailurecount=2\nfallback=127.0.0.1:80\n';
  for (let v = 0; v * 50 < reals; v++) {
    text += `virtual=10.100.${v}.1:80\n\tservice=http\n\treceive="OK"\n${v % 2 ? '\tquiescent=yes\n' : ''}`;
    for (let i = v * 50; i < Math.min(reals, v * 50 + 50); i++)
      text += `\treal=127.30.${i >> 7}.${(i & 127) + 1}:8080 masq ${1 + (i % 3)}\n`;
    text += '\n';
  }
  const cfg = await config(text);
  const clock = new FakeClock();
  const ipvs = new FakeIpvs();
  const up = new Map<string, boolean>();
  let checks = 0;
  let transitions = 0;
  let reconciles = 0;
  const engine = new Engine({
    clock,
    ipvs,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined },
    maxInFlight: 5000,
    runProbe: (spec: ProbeSpec): Promise<CheckResult> => {
      checks++;
      const host = spec.kind === 'http' ? spec.url.slice(7, spec.url.indexOf(':', 7)) : 'x';
      let s = up.get(host) ?? true;
      if (Math.random() < flap) s = !s;
      up.set(host, s);
      return Promise.resolve(
        s
          ? { up: true, cause: 'ok', reason: 'HTTP 200 OK', ms: 1 }
          : { up: false, cause: 'refused', reason: 'connect ECONNREFUSED', ms: 1 },
      );
    },
    onEvent: (e) => {
      if (e.type === 'transition' && (e.t.kind === 'up' || e.t.kind === 'down')) transitions++;
      if (e.type === 'reconcile') reconciles++;
    },
  });
  await engine.start(cfg);
  const snapshot = (label: string) => {
    (global as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    return {
      at: label,
      fake_minutes: Math.round((clock.now() - 1_700_000_000_000) / 60000),
      heap_mb: Math.round((m.heapUsed / 1048576) * 10) / 10,
      rss_mb: Math.round(m.rss / 1048576),
      handles: (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length,
      timers: clock.pending,
      probes: engine.health.probes.size,
      members: engine.health.members.size,
      kernel_dests: [...ipvs.table.values()].reduce((n, s) => n + s.dests.size, 0),
      checks,
      transitions,
      reconciles,
      ipvsadm_log_lines: ipvs.log.length,
    };
  };
  // Warm up ten minutes, then measure from there to the end.
  await clock.advance(10 * 60_000, { flushEvery: 200 });
  ipvs.log.length = 0;
  const first = snapshot('after 10 min');
  const t0 = Date.now();
  for (let m = 10; m < hours * 60; m += 10) {
    await clock.advance(10 * 60_000, { flushEvery: 200 });
    ipvs.log.length = 0; // the simulator's own log is not the engine's memory
  }
  const last = snapshot(`after ${hours * 60} min`);
  await engine.stop();
  process.stdout.write(
    JSON.stringify({
      bench: 'soak',
      reals,
      flap_per_check: flap,
      fake_hours: hours,
      wall_s: Math.round((Date.now() - t0) / 1000),
      start: first,
      end: last,
    }) + '\n',
  );
}

void main();
