#!/usr/bin/env node
/**
 * A recording stand-in for ipvsadm, for the demo, the daemon tests, the benchmarks and
 * the side-by-side runs with the Perl original. NOT for production.
 *
 * It keeps the table in a JSON state file, applies commands with the kernel's semantics
 * as measured with the real ipvsadm (src/reconcile/simulate.ts: port rewrite of gate/ipip
 * destinations, "already exists", …), prints `-S -n`, `-L -n` and `-L -n --thresholds`
 * in the real formats (the Perl daemon parses -L), reads `-R`, and appends every
 * invocation to a log, timestamped:  `<epoch ms> <pid> <args…>` (and one `-R:` line per
 * restored command).
 *
 *   fake-ipvsadm --install DIR      write DIR/ipvsadm (a wrapper bound to DIR/state.json
 *                                   and DIR/ipvsadm.log) and print its path
 *   FAKE_IPVSADM_DIR=DIR fake-ipvsadm <ipvsadm arguments>
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, appendFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatSave, parseSave } from '../reconcile/ipvsadm-save';
import { simulateCommand } from '../reconcile/simulate';
import type { Service, Table } from '../reconcile/table';

interface State {
  save: string;
}

function load(dir: string): Table {
  const f = join(dir, 'state.json');
  if (!existsSync(f)) return new Map();
  const st = JSON.parse(readFileSync(f, 'utf8')) as State & { thresholds?: Record<string, [number, number]> };
  const t = parseSave(st.save).table;
  for (const s of t.values())
    for (const d of s.dests.values()) {
      const th = st.thresholds?.[`${s.key} ${d.key}`];
      d.upper = th ? th[0] : 0;
      d.lower = th ? th[1] : 0;
    }
  return t;
}

function store(dir: string, t: Table): void {
  const thresholds: Record<string, [number, number]> = {};
  for (const s of t.values())
    for (const d of s.dests.values())
      if (d.upper || d.lower) thresholds[`${s.key} ${d.key}`] = [d.upper ?? 0, d.lower ?? 0];
  const f = join(dir, 'state.json');
  writeFileSync(f + '.tmp', JSON.stringify({ save: formatSave(t), thresholds }));
  renameSync(f + '.tmp', f);
}

const pad = (s: string | number, n: number) => String(s).padEnd(n);
const FWD = { gate: 'Route', masq: 'Masq', ipip: 'Tunnel' } as const;

function serviceLine(s: Service): string {
  let line = `${pad(s.proto.toUpperCase(), 4)} ${s.addr}${s.proto === 'fwm' && s.ipv6 ? ' IPv6' : ''} ${s.scheduler}`;
  if (s.schedflags) line += ` (${s.schedflags})`;
  if (s.persistent !== null) {
    line += ` persistent ${s.persistent}`;
    if (s.netmask && s.netmask !== '255.255.255.255' && s.netmask !== '128') line += ` mask ${s.netmask}`;
  }
  if (s.ops) line += ' ops';
  return line;
}

export function formatList(t: Table, thresholds: boolean): string {
  const out = ['IP Virtual Server version 1.2.1 (size=4096)'];
  if (thresholds)
    out.push(
      'Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn ',
      '  -> RemoteAddress:Port',
    );
  else
    out.push(
      'Prot LocalAddress:Port Scheduler Flags',
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
    );
  for (const s of t.values()) {
    out.push(serviceLine(s));
    for (const d of s.dests.values()) {
      out.push(
        thresholds
          ? `  -> ${pad(d.key, 28)} ${pad(d.upper ?? 0, 10)} ${pad(d.lower ?? 0, 10)} ${pad(0, 10)} ${pad(0, 10)}`
          : `  -> ${pad(d.key, 28)} ${pad(FWD[d.forward], 7)} ${pad(d.weight, 6)} ${pad(0, 10)} ${pad(0, 10)}`,
      );
    }
  }
  return out.join('\n') + '\n';
}

function main(argv: string[]): number {
  if (argv[0] === '--install') {
    const dir = resolve(argv[1] ?? '.');
    mkdirSync(dir, { recursive: true });
    const wrapper = join(dir, 'ipvsadm');
    writeFileSync(wrapper, `#!/bin/sh\nFAKE_IPVSADM_DIR='${dir}' exec '${process.execPath}' '${__filename}' "$@"\n`);
    chmodSync(wrapper, 0o755);
    if (!existsSync(join(dir, 'state.json'))) store(dir, new Map());
    process.stdout.write(wrapper + '\n');
    return 0;
  }
  const dir = process.env.FAKE_IPVSADM_DIR;
  if (!dir) {
    process.stderr.write('fake-ipvsadm: FAKE_IPVSADM_DIR is not set (use --install DIR)\n');
    return 2;
  }
  const logLine = (s: string) => appendFileSync(join(dir, 'ipvsadm.log'), `${Date.now()} ${process.pid} ${s}\n`);
  logLine(argv.join(' '));
  const t = load(dir);
  const args = argv.filter((a) => a !== '-n' && a !== '--numeric');
  if (args[0] === '-S' || args[0] === '--save') {
    process.stdout.write(formatSave(t));
    return 0;
  }
  if (args[0] === '-L' || args[0] === '-l' || args[0] === '--list') {
    process.stdout.write(formatList(t, args.includes('--thresholds')));
    return 0;
  }
  if (args[0] === '-R' || args[0] === '--restore') {
    const lines = readFileSync(0, 'utf8')
      .split('\n')
      .filter((l) => l.trim());
    let rc = 0;
    for (const l of lines) {
      logLine(`-R: ${l}`);
      const e = simulateCommand(t, l.trim().split(/\s+/));
      if (e) {
        process.stderr.write(e + '\n');
        if (e.startsWith('Illegal')) {
          rc = 255;
          break;
        }
      }
    }
    store(dir, t);
    return rc;
  }
  const e = simulateCommand(t, args);
  if (e) {
    process.stderr.write(e + '\n');
    return 255;
  }
  store(dir, t);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
