/**
 * Parse time of a generated config (issue 2: 1,000 virtual services and 20,000 real
 * servers in under a second). Prints one JSON line; asserts nothing.
 */
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../src/parser/read-config';
import { systemResolver } from '../src/parser/resolve';

function generate(virtuals: number, perVirtual: number): string {
  let s = 'checktimeout=2\nnegotiatetimeout=2\ncheckinterval=1\nquiescent=yes\n';
  for (let v = 0; v < virtuals; v++) {
    s += `virtual=10.${(v >> 8) & 255}.${v & 255}.1:80\n\tservice=http\n\trequest="/health"\n\treceive="OK"\n\tscheduler=wlc\n`;
    for (let r = 0; r < perVirtual; r++) {
      const i = v * perVirtual + r;
      s += `\treal=127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255 || 1}:8080 masq ${1 + (r % 5)}\n`;
    }
    s += '\n';
  }
  return s;
}

async function main(): Promise<void> {
  const text = generate(1000, 20);
  const opts = { resolver: systemResolver(), hostname: 'bench', checkFiles: false };
  await parseConfig(text, 'bench.cf', opts); // warm-up
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const cfg = await parseConfig(text, 'bench.cf', opts);
    runs.push(performance.now() - t0);
    if (cfg.virtuals.length !== 1000) throw new Error('bad parse');
  }
  runs.sort((a, b) => a - b);
  process.stdout.write(
    JSON.stringify({
      bench: 'parse',
      virtuals: 1000,
      reals: 20000,
      lines: text.split('\n').length,
      median_ms: Math.round(runs[2]!),
      min_ms: Math.round(runs[0]!),
      max_ms: Math.round(runs[4]!),
    }) + '\n',
  );
}

void main();
