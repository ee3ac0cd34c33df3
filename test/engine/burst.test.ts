/**
 * A burst of failures (a switch behind 1,000 reals dies) reaches the kernel in a handful
 * of batches, while a lone failure after a quiet spell is applied at once. Fake time and
 * the fake kernel; the scale benchmark measures the same on the real executable.
 */
import assert from 'node:assert/strict';
import { BURST_SPACING_MS } from '../../src/engine/engine';
import { harness } from './harness';

const VIRTUALS = 20;
const PER_VIRTUAL = 50;

function bigConfig(): { text: string; hosts: string[] } {
  const hosts: string[] = [];
  let text = 'checkinterval=1\nquiescent=yes\n';
  for (let v = 0; v < VIRTUALS; v++) {
    text += `virtual=10.9.${v}.1:80\n\tservice=http\n`;
    for (let i = 0; i < PER_VIRTUAL; i++) {
      const host = `127.9.${v}.${i + 1}`;
      hosts.push(host);
      text += `\treal=${host}:8080 masq 2\n`;
    }
    text += '\n';
  }
  return { text, hosts };
}

/** A deterministic spread of phases over the check interval (the daemon uses Math.random). */
function spread(): () => number {
  let x = 0;
  return () => (x = (x + 0.6180339887) % 1);
}

describe('engine: bursts of transitions', () => {
  it('1,000 reals failing together are applied by a handful of ipvsadm runs, each within the spacing of its detection', async () => {
    const { text, hosts } = bigConfig();
    const h = await harness(text, {
      servers: Object.fromEntries(hosts.map((a) => [a, 'up' as const])),
      random: spread(),
    });
    await h.engine.start(h.cfg);
    for (let i = 0; i < 30; i++) await h.tick(100);
    assert.equal((h.ipvs.save().match(/ -w 2\n/g) ?? []).length, hosts.length, 'every real in at its weight first');

    // Note when each real's failure is detected and when its weight-0 command is applied.
    const detected = new Map<string, number>();
    const applied = new Map<string, number>();
    const runs = h.ipvs.runs;
    for (const a of hosts) h.servers.set(a, 'down');
    for (let i = 0; i < 300; i++) {
      const from = h.events.length;
      await h.tick(10);
      for (const e of h.events.slice(from)) {
        if (e.type === 'transition' && e.t.kind === 'down') detected.set(e.t.member.member.r.address, h.clock.now());
        if (e.type === 'applied' && e.op.kind === 'editDest' && e.op.dest.weight === 0)
          applied.set(e.op.dest.key.replace(/:8080$/, ''), h.clock.now());
      }
    }
    assert.equal(detected.size, hosts.length, 'every real detected down');
    assert.equal(applied.size, hosts.length, 'every real quiesced');
    assert.equal(
      (h.ipvs.save().match(/ -w 0\n/g) ?? []).length,
      hosts.length,
      'the kernel holds every real at weight 0',
    );
    const first = Math.min(...detected.values());
    const last = Math.max(...detected.values());
    assert.ok(
      last - first >= 500,
      `the failures were detected over the check interval (${last - first} ms), not at once`,
    );
    const batches = h.ipvs.runs - runs;
    // One run per spacing over the detection window, and one for the first.
    assert.ok(
      batches <= Math.ceil((last - first) / BURST_SPACING_MS) + 2,
      `${batches} ipvsadm runs for ${hosts.length} failures`,
    );
    assert.ok(batches >= 2, 'the burst was applied as it came, not held to its end');
    for (const [a, t] of detected) {
      const lag = applied.get(a)! - t;
      assert.ok(lag <= BURST_SPACING_MS + 10, `${a} applied ${lag} ms after its detection`);
    }
  });

  it('a lone failure after a quiet spell is applied in the same moment it is detected', async () => {
    const { text, hosts } = bigConfig();
    const h = await harness(text, {
      servers: Object.fromEntries(hosts.map((a) => [a, 'up' as const])),
      random: spread(),
    });
    await h.engine.start(h.cfg);
    for (let i = 0; i < 30; i++) await h.tick(100);
    h.servers.set(hosts[7]!, 'down');
    let detectedAt = -1;
    let appliedAt = -1;
    for (let i = 0; i < 300 && appliedAt < 0; i++) {
      const from = h.events.length;
      await h.tick(10);
      for (const e of h.events.slice(from)) {
        if (e.type === 'transition' && e.t.kind === 'down') detectedAt = h.clock.now();
        if (e.type === 'applied') appliedAt = h.clock.now();
      }
    }
    assert.ok(detectedAt > 0, 'the failure was detected');
    assert.equal(appliedAt, detectedAt, 'applied without waiting for the burst spacing');
    assert.match(h.ipvs.save(), new RegExp(`-r ${hosts[7]!.replace(/\./g, '\\.')}:8080 -m -w 0\n`));
  });
});
