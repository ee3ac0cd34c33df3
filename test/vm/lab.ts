/**
 * A director in a real IPVS kernel, for the VM suite. These tests run inside the QEMU guest
 * that test/vm/launch.ts boots (`npm run test:vm`); nothing here fakes the kernel.
 *
 * One Lab per test:
 *
 *   test process (this namespace)                 director namespace `ldvN`
 *   ┌───────────────────────────────┐  veth pair  ┌──────────────────────────────────┐
 *   │ ldvN  10.9.0.1/16 fd00:9::1   │─────────────│ eth0  10.9.0.2/16 fd00:9::2      │
 *   │ real servers on 10.9.1.x/16   │             │ its own IPVS table               │
 *   │ and fd00:9::1:x (RealServer)  │             │ the daemon (ip netns exec …)     │
 *   └───────────────────────────────┘             │ VIPs on lo (10.0.0.x)            │
 *                                                 └───────────┬──────────────────────┘
 *                                   (traffic tests) veth pair │ 10.8.0.1/24
 *                                                 ┌───────────┴──────────────────────┐
 *                                                 │ client namespace `ldcN` 10.8.0.2 │
 *                                                 └──────────────────────────────────┘
 *
 * The reals are addresses of this namespace and the director reaches them over the veth,
 * so to the director's kernel they are remote hosts (a real on one of its own addresses
 * would be local delivery). Each test gets a fresh director namespace, hence an empty
 * IPVS table of its own; deleting the namespace at the end takes the veth pair and every
 * real address with it, so the next test starts clean with the same addresses.
 *
 * The daemon runs exactly as in production: `ldirectord CONFIG start`, pid file and status
 * socket under /run, the real ipvsadm. It is given a recording wrapper around the real
 * ipvsadm (--ipvsadm) so tests can assert which commands it ran (no flap, one command per
 * reload) and when (reaction times); `lab.table()` reads the kernel with the real ipvsadm
 * directly.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from '../helpers/env';
import { RealServer } from '../helpers/real-servers';
import { waitUntil } from '../helpers/wait';

export const IPVSADM = existsSync('/usr/sbin/ipvsadm') ? '/usr/sbin/ipvsadm' : '/sbin/ipvsadm';

/** Inside the guest booted by launch.ts, with IPVS loaded. */
export function inVm(): boolean {
  return process.env.IPVS_VM === '1' && existsSync('/proc/net/ip_vs');
}

/** Every VM test file starts with this: outside the guest the suite must not run at all. */
export function requireVm(): void {
  if (!inVm()) throw new Error('the VM suite runs inside the IPVS kernel: use `npm run test:vm`');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `ipvsadm -S -n` in a canonical order: services sorted, each followed by its sorted reals. */
export function canonical(save: string): string {
  const services: { line: string; dests: string[] }[] = [];
  for (const line of save
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    if (/^-A /.test(line)) services.push({ line, dests: [] });
    // ipvsadm prints each service followed by its reals.
    else if (/^-a /.test(line) && services.length) services[services.length - 1]!.dests.push(line);
    else throw new Error(`unexpected ipvsadm -S line: ${line}`);
  }
  return services
    .sort((a, b) => a.line.localeCompare(b.line))
    .map((s) => [s.line, ...s.dests.sort()].join('\n') + '\n')
    .join('');
}

/** A recorded ipvsadm invocation of the daemon: when it ran and the command(s) it carried. */
export interface Recorded {
  start: number;
  end: number;
  rc: number;
  /** One argv line per command (a -R batch carries several). */
  commands: string[];
}

let seq = 0;

export class Lab {
  readonly n = ++seq;
  readonly ns = `ldv${this.n}`;
  readonly clientNs = `ldc${this.n}`;
  readonly link = `ldv${this.n}`;
  readonly dir = join('/tmp', `ldvm-${this.n}`);
  readonly cfgname = `lab${this.n}.cf`;
  readonly cfg = join(this.dir, this.cfgname);
  readonly log = join(this.dir, 'ldirectord.log');
  readonly wrapper = join(this.dir, 'ipvsadm');
  readonly ipvsLog = join(this.dir, 'ipvsadm.log');
  readonly reals = new Map<string, RealServer>();
  private client = false;
  private children = new Set<ChildProcess>();

  /** Make the director namespace and its link; with `client`, a client namespace too. */
  constructor(opts: { client?: boolean } = {}) {
    requireVm();
    mkdirSync(this.dir, { recursive: true });
    const ip = (...a: string[]) => sh('ip', a);
    ip('netns', 'add', this.ns);
    ip('link', 'add', this.link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns);
    ip('addr', 'add', '10.9.0.1/16', 'dev', this.link);
    ip('-6', 'addr', 'add', 'fd00:9::1/64', 'dev', this.link, 'nodad');
    ip('link', 'set', this.link, 'up');
    ip('-n', this.ns, 'link', 'set', 'lo', 'up');
    ip('-n', this.ns, 'addr', 'add', '10.9.0.2/16', 'dev', 'eth0');
    ip('-n', this.ns, '-6', 'addr', 'add', 'fd00:9::2/64', 'dev', 'eth0', 'nodad');
    ip('-n', this.ns, 'link', 'set', 'eth0', 'up');
    if (opts.client) this.addClient();
    this.writeWrapper();
  }

  /** The client namespace, on its own link to the director; the reals route back through it. */
  private addClient(): void {
    const ip = (...a: string[]) => sh('ip', a);
    this.client = true;
    ip('netns', 'add', this.clientNs);
    ip('-n', this.ns, 'link', 'add', 'cli0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.clientNs);
    ip('-n', this.ns, 'addr', 'add', '10.8.0.1/24', 'dev', 'cli0');
    ip('-n', this.ns, 'link', 'set', 'cli0', 'up');
    ip('-n', this.clientNs, 'link', 'set', 'lo', 'up');
    ip('-n', this.clientNs, 'addr', 'add', '10.8.0.2/24', 'dev', 'eth0');
    ip('-n', this.clientNs, 'link', 'set', 'eth0', 'up');
    ip('-n', this.clientNs, 'route', 'add', 'default', 'via', '10.8.0.1');
    // LVS-NAT: the director forwards, and the reals' answers to the client go back through it.
    sh('ip', ['netns', 'exec', this.ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    ip('route', 'add', '10.8.0.0/24', 'via', '10.9.0.2');
  }

  /** A VIP the director answers on (only traffic needs one: a table works for any address). */
  addVip(address: string): void {
    sh('ip', ['-n', this.ns, 'addr', 'add', `${address}/32`, 'dev', 'lo']);
  }

  /**
   * The recording ipvsadm: every invocation that changes the table is appended to
   * ipvsadm.log with the time it started, the time it ended and its exit status; a -R batch
   * is logged with its lines. Reads (-S, -L) are not logged. Test code only.
   */
  private writeWrapper(): void {
    writeFileSync(
      this.wrapper,
      `#!/bin/sh
# Recording wrapper around the real ipvsadm, for the VM tests. A word in FAULT makes it
# misbehave: fail (writes exit 1), garbage (reads print nonsense), hang (never returns).
log='${this.ipvsLog}'
fault=$(cat '${this.faultFile}' 2>/dev/null)
[ "$fault" = hang ] && exec sleep 3600
case "$1" in -S|-L|-l|--save|--list)
  if [ "$fault" = garbage ]; then echo 'Segmentation fault (core dumped) in ipvsadm'; exit 0; fi
  exec ${IPVSADM} "$@" ;;
esac
t0=$(date +%s%3N)
if [ "$1" = -R ]; then
  in=$(cat)
  if [ "$fault" = fail ]; then echo 'Memory allocation problem' >&2; rc=1
  else printf '%s\\n' "$in" | ${IPVSADM} -R; rc=$?; fi
  body=$(printf '%s\\n' "$in" | sed 's/^/| /')
else
  if [ "$fault" = fail ]; then echo 'Memory allocation problem' >&2; rc=1
  else ${IPVSADM} "$@"; rc=$?; fi
  body="| $*"
fi
printf '@ %s %s %s\\n%s\\n' "$t0" "$(date +%s%3N)" "$rc" "$body" >> "$log"
exit $rc
`,
    );
    chmodSync(this.wrapper, 0o755);
  }

  get faultFile(): string {
    return join(this.dir, 'fault');
  }

  /** Make the daemon's ipvsadm misbehave from now on (null: behave again). */
  fault(mode: 'fail' | 'garbage' | 'hang' | null): void {
    if (mode) writeFileSync(this.faultFile, mode);
    else rmSync(this.faultFile, { force: true });
  }

  /** The daemon's table-changing ipvsadm runs so far. */
  recorded(): Recorded[] {
    if (!existsSync(this.ipvsLog)) return [];
    const out: Recorded[] = [];
    for (const line of readFileSync(this.ipvsLog, 'utf8').split('\n')) {
      const head = /^@ (\d+) (\d+) (\d+)$/.exec(line);
      if (head) out.push({ start: Number(head[1]), end: Number(head[2]), rc: Number(head[3]), commands: [] });
      else if (line.startsWith('| ') && out.length) {
        const c = line.slice(2).trim();
        if (c) out[out.length - 1]!.commands.push(c);
      }
    }
    return out;
  }

  /** Every command the daemon ran, flattened. */
  commands(): string[] {
    return this.recorded().flatMap((r) => r.commands);
  }

  /** The weights the daemon ever gave real `rip:rport` (in -a/-e commands). */
  weightsGiven(real: string): number[] {
    return this.commands()
      .filter((c) => /^-[ae] /.test(c) && c.split(/\s+/).includes(real))
      .map((c) => Number(/-w (\d+)/.exec(c)?.[1] ?? '1'));
  }

  /** A real server: an HTTP server on a new address of this namespace's link. */
  async real(address: string, port: number, body = `real ${address}`): Promise<RealServer> {
    const v6 = address.includes(':');
    this.addAddress(address);
    const s = new RealServer(address, port, 'http').answer(200, body);
    await s.start();
    this.reals.set(`${v6 ? `[${address}]` : address}:${port}`, s);
    return s;
  }

  /** An address of this namespace's link, for a real server the test runs itself. */
  addAddress(address: string): void {
    const v6 = address.includes(':');
    try {
      sh(
        'ip',
        v6
          ? ['-6', 'addr', 'add', `${address}/64`, 'dev', this.link, 'nodad']
          : ['addr', 'add', `${address}/16`, 'dev', this.link],
      );
    } catch (e) {
      if (!/File exists/.test(String((e as { stderr?: string }).stderr))) throw e;
    }
  }

  server(real: string): RealServer {
    const s = this.reals.get(real);
    if (!s) throw new Error(`no real server ${real}`);
    return s;
  }

  /** Write the config; the log goes into the lab's dir unless the text names one. */
  config(text: string): void {
    const body = text.replace(/^\n/, '');
    writeFileSync(this.cfg, /^logfile=/m.test(body) ? body : `logfile="${this.log}"\n${body}`);
  }

  /** Run the CLI in the director namespace, as an init script or the OCF agent would. */
  cli(
    args: string[],
    opts: { ipvsadm?: string | null; timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {},
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const ipvsadm = opts.ipvsadm === undefined ? this.wrapper : opts.ipvsadm;
    const argv = ['netns', 'exec', this.ns, process.execPath, CLI, ...(ipvsadm ? ['--ipvsadm', ipvsadm] : []), ...args];
    // Under software emulation a start takes 10-20 times as long as on hardware, the first
    // one of a boot longer still (a cold cache over 9p): `start` gets more than its
    // production bound (25 s) to report, so a slow start is not mistaken for a broken one.
    const env = { LDIRECTORD_START_TIMEOUT: '180', ...process.env, ...opts.env };
    return new Promise((resolve) => {
      const c = execFile(
        'ip',
        argv,
        { encoding: 'utf8', timeout: opts.timeoutMs ?? 240_000, env },
        (err, stdout, stderr) => {
          const e = err as (Error & { code?: number | string }) | null;
          resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr });
        },
      );
      c.stdin?.end(opts.input ?? '');
    });
  }

  /** `ldirectord CONFIG start`, which returns once the daemon runs. */
  async start(opts: { ipvsadm?: string | null; env?: NodeJS.ProcessEnv } = {}): Promise<void> {
    const r = await this.cli([this.cfg, 'start'], opts);
    if (r.code !== 0) throw new Error(`start exited ${r.code}: ${r.stderr}\n${this.logText()}`);
  }

  async stop(): Promise<void> {
    const r = await this.cli([this.cfg, 'stop']);
    if (r.code !== 0) throw new Error(`stop exited ${r.code}: ${r.stderr}`);
  }

  pidFile(): string {
    return `/run/ldirectord.${this.cfgname}.pid`;
  }

  pid(): number | null {
    return existsSync(this.pidFile()) ? Number(readFileSync(this.pidFile(), 'utf8').trim()) : null;
  }

  signal(sig: NodeJS.Signals): void {
    const pid = this.pid();
    if (!pid) throw new Error('no daemon running');
    process.kill(pid, sig);
  }

  /** The kernel's table, read with the real ipvsadm (not the daemon's wrapper), canonical. */
  table(): string {
    return canonical(this.ipvsadm('-S', '-n'));
  }

  /** The kernel's `-x/-y` thresholds per real (`-S` does not print them): `rip:rport` → [upper, lower]. */
  thresholds(): Map<string, [number, number]> {
    const out = new Map<string, [number, number]>();
    let svc = '';
    for (const line of this.ipvsadm('-L', '-n', '--thresholds').split('\n')) {
      const s = /^(TCP|UDP|FWM)\s+(\S+)/.exec(line);
      if (s) svc = `${s[1]} ${s[2]}`;
      const d = /^\s+->\s+(\S+)\s+(\d+)\s+(\d+)/.exec(line);
      if (d) out.set(`${svc} ${d[1]}`, [Number(d[2]), Number(d[3])]);
    }
    return out;
  }

  /** Run the real ipvsadm in the director namespace: an operator's hand edit. */
  ipvsadm(...argv: string[]): string {
    return sh('ip', ['netns', 'exec', this.ns, IPVSADM, ...argv]);
  }

  /** Feed `ipvsadm -R` in the director namespace. */
  restore(rules: string): void {
    execFileSync('ip', ['netns', 'exec', this.ns, IPVSADM, '-R'], { input: rules, encoding: 'utf8' });
  }

  logText(): string {
    return existsSync(this.log) ? readFileSync(this.log, 'utf8') : '';
  }

  waitFor<T>(what: string, fn: () => T | false | null | undefined, timeoutMs = 60_000): Promise<T> {
    return waitUntil(what, fn, timeoutMs, () => {
      const log = this.logText().split('\n').slice(-40).join('\n');
      return `table:\n${this.safeTable()}\nlog:\n${log}`;
    });
  }

  private safeTable(): string {
    try {
      return this.table();
    } catch (e) {
      return String(e);
    }
  }

  /** Wait until the kernel's table is exactly `expected` (compared canonically). */
  waitTable(expected: string, timeoutMs = 60_000): Promise<true> {
    const want = canonical(expected);
    return this.waitFor(`the table\n${want}`, () => this.table() === want, timeoutMs);
  }

  /**
   * Wait until the table is `expected` and has stayed so for `ms` (the daemon has settled:
   * at least one periodic resync with checkinterval=1 has passed without changing it).
   */
  async settle(expected: string, ms = 2500, timeoutMs = 60_000): Promise<void> {
    await this.waitTable(expected, timeoutMs);
    const want = canonical(expected);
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const now = this.table();
      if (now !== want)
        throw new Error(
          `the table moved away from\n${want}\nto\n${now}\nlog:\n${this.logText().split('\n').slice(-30).join('\n')}`,
        );
      await sleep(200);
    }
  }

  /** A long-running process in a namespace (the traffic client), killed at teardown. */
  spawnIn(ns: string, argv: string[]): ChildProcess {
    const c = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(c);
    c.on('exit', () => this.children.delete(c));
    return c;
  }

  /** Kill whatever this lab started, and remove its namespaces (with every address on them). */
  async teardown(): Promise<void> {
    // The daemon by its pid file, and any process of this lab's config without one (a start
    // that gave up before the pid file): one left alive keeps the namespace, and ip_vs, busy.
    const pids = new Set<number>();
    const pid = this.pid();
    if (pid) pids.add(pid);
    try {
      for (const p of sh('pgrep', ['-f', this.cfg]).split('\n')) if (Number(p) > 0) pids.add(Number(p));
    } catch {
      // pgrep exits 1 when nothing matches
    }
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(this.pidFile(), { force: true });
    for (const c of this.children) c.kill('SIGKILL');
    for (const s of this.reals.values()) await s.stop();
    this.reals.clear();
    const quiet = (args: string[]) => {
      try {
        sh('ip', args);
      } catch {
        // already gone
      }
    };
    if (this.client) {
      quiet(['route', 'del', '10.8.0.0/24']);
      quiet(['netns', 'del', this.clientNs]);
    }
    quiet(['link', 'del', this.link]);
    quiet(['netns', 'del', this.ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
