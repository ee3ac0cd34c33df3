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
 *   fake-ipvsadm --install DIR --server HOST:PORT
 *                                   the same, as a bash wrapper served by serveFake() in a
 *                                   long-lived process (the cluster test): milliseconds a run
 *   FAKE_IPVSADM_DIR=DIR fake-ipvsadm <ipvsadm arguments>
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, appendFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { formatSave, parseSave } from '../reconcile/ipvsadm-save';
import { simulateCommand } from '../reconcile/simulate';
import { formatDaemonList, isSyncCommand, simulateSyncCommand, type SyncDaemon } from '../reconcile/sync-daemon';
import type { Service, Table } from '../reconcile/table';

interface State {
  save: string;
  /** The sync threads (`--start-daemon`), as `-L --daemon` lists them. */
  daemons?: SyncDaemon[];
}

function loadDaemons(dir: string): SyncDaemon[] {
  const f = join(dir, 'state.json');
  return existsSync(f) ? ((JSON.parse(readFileSync(f, 'utf8')) as State).daemons ?? []) : [];
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

function store(dir: string, t: Table, daemons = loadDaemons(dir)): void {
  const thresholds: Record<string, [number, number]> = {};
  for (const s of t.values())
    for (const d of s.dests.values())
      if (d.upper || d.lower) thresholds[`${s.key} ${d.key}`] = [d.upper ?? 0, d.lower ?? 0];
  const f = join(dir, 'state.json');
  writeFileSync(f + '.tmp', JSON.stringify({ save: formatSave(t), thresholds, daemons }));
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

/** What one run of the stand-in reads and writes: the process's own, or a served client's. */
interface Io {
  pid: number;
  input(): string;
  out(text: string): void;
  err(text: string): void;
}

/** One ipvsadm invocation against the table kept in `dir`; its exit status. */
export function runFake(dir: string, argv: string[], io: Io): number {
  const logLine = (s: string) => appendFileSync(join(dir, 'ipvsadm.log'), `${Date.now()} ${io.pid} ${s}\n`);
  logLine(argv.join(' '));
  const t = load(dir);
  const args = argv.filter((a) => a !== '-n' && a !== '--numeric');
  if (args[0] === '-S' || args[0] === '--save') {
    io.out(formatSave(t));
    return 0;
  }
  if (isSyncCommand(args)) {
    const daemons = loadDaemons(dir);
    const e = simulateSyncCommand(daemons, args);
    if (e) {
      io.err(e + '\n');
      return 1;
    }
    store(dir, t, daemons);
    return 0;
  }
  if (args[0] === '-L' || args[0] === '-l' || args[0] === '--list') {
    io.out(
      args.includes('--daemon') ? formatDaemonList(loadDaemons(dir)) : formatList(t, args.includes('--thresholds')),
    );
    return 0;
  }
  if (args[0] === '-R' || args[0] === '--restore') {
    const lines = io
      .input()
      .split('\n')
      .filter((l) => l.trim());
    let rc = 0;
    for (const l of lines) {
      logLine(`-R: ${l}`);
      const e = simulateCommand(t, l.trim().split(/\s+/));
      if (e) {
        io.err(e + '\n');
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
    io.err(e + '\n');
    return 255;
  }
  store(dir, t);
  return 0;
}

/**
 * The wrapper a served stand-in installs: bash, which starts in milliseconds where a Node
 * process takes 0.1-0.3 s, so that the stand-in does not add its own start-up to every
 * table change (the real ipvsadm is a small C program). It sends its directory, pid,
 * arguments and (for -R) standard input over TCP (bash's /dev/tcp) to serveFake(), and
 * prints what comes back: `1 ` lines to stdout, `2 ` lines to stderr, then `rc N`.
 */
function servedWrapper(dir: string, host: string, port: number): string {
  return `#!/bin/bash
export LC_ALL=C
exec 3<>/dev/tcp/${host}/${port} || exit 125
input=''
case "\${1:-}" in -R|--restore) input=$(cat; printf x); input=\${input%x} ;; esac
{ printf '%s\n%s\n%s\n' '${dir}' "$$" "$#"; for a in "$@"; do printf '%s\n' "$a"; done
  printf '%s\n' "\${#input}"; printf '%s' "$input"; } >&3
rc=125
while IFS= read -r line <&3; do
  case $line in
    '1 '*) printf '%s\n' "\${line#1 }" ;;
    '2 '*) printf '%s\n' "\${line#2 }" >&2 ;;
    'rc '*) rc=\${line#rc }; break ;;
  esac
done
exit "$rc"
`;
}

/**
 * Serve the wrappers of `--install DIR --server HOST:PORT` from this (long-lived) process:
 * each connection is one invocation, run by runFake against its directory's state file.
 */
export function serveFake(host: string, port: number): Promise<Server> {
  const server = createServer((sock) => {
    let buf = Buffer.alloc(0);
    let answered = false;
    sock.on('error', () => undefined);
    sock.on('data', (b: Buffer) => {
      if (answered) return;
      buf = Buffer.concat([buf, b]);
      if (buf.length > 16 * 1024 * 1024) {
        sock.destroy();
        return;
      }
      const req = parseRequest(buf);
      if (!req) return;
      answered = true;
      const out: string[] = [];
      const io: Io = {
        pid: req.pid,
        input: () => req.input,
        out: (t) => out.push(...lines(t, '1')),
        err: (t) => out.push(...lines(t, '2')),
      };
      let rc: number;
      try {
        rc = runFake(req.dir, req.argv, io);
      } catch (e) {
        io.err(`fake-ipvsadm: ${(e as Error).message}\n`);
        rc = 2;
      }
      sock.end(out.join('') + `rc ${rc}\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

const lines = (text: string, tag: string) =>
  text
    .split('\n')
    .slice(0, text.endsWith('\n') ? -1 : undefined)
    .map((l) => `${tag} ${l}\n`);

/** A whole request (see servedWrapper), or null while more is to come. */
function parseRequest(buf: Buffer): { dir: string; pid: number; argv: string[]; input: string } | null {
  const text = buf.toString('latin1');
  const head: string[] = [];
  let at = 0;
  const next = () => {
    const nl = text.indexOf('\n', at);
    if (nl < 0) return null;
    const line = text.slice(at, nl);
    at = nl + 1;
    return line;
  };
  for (let i = 0; i < 3; i++) {
    const l = next();
    if (l === null) return null;
    head.push(l);
  }
  const argc = Number(head[2]);
  const argv: string[] = [];
  for (let i = 0; i < argc; i++) {
    const l = next();
    if (l === null) return null;
    argv.push(l);
  }
  const len = next();
  if (len === null || text.length - at < Number(len)) return null;
  return { dir: head[0]!, pid: Number(head[1]), argv, input: text.slice(at, at + Number(len)) };
}

function main(argv: string[]): number {
  if (argv[0] === '--install') {
    const dir = resolve(argv[1] ?? '.');
    mkdirSync(dir, { recursive: true });
    const wrapper = join(dir, 'ipvsadm');
    const served = argv[2] === '--server' ? /^(.+):(\d+)$/.exec(argv[3] ?? '') : null;
    writeFileSync(
      wrapper,
      served
        ? servedWrapper(dir, served[1]!, Number(served[2]))
        : `#!/bin/sh\nFAKE_IPVSADM_DIR='${dir}' exec '${process.execPath}' '${__filename}' "$@"\n`,
    );
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
  return runFake(dir, argv, {
    pid: process.pid,
    input: () => readFileSync(0, 'utf8'),
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  });
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
