/**
 * Connection state survives a director switchover (issue 20, syncdaemon=), in the real
 * kernel: two directors, each its own network namespace with its own IPVS table and this
 * daemon (the cloned deployment: both run it, only the VIP moves), a client namespace,
 * and the real server in the guest's own namespace, all on one bridge, direct routing:
 *
 *   bridge ldsbr: real 10.20.0.100 (this process; the VIP on lo, ARP for it ignored)
 *     ├─ lds-a  director A 10.20.0.1   syncdaemon=both eth0 7, holds the VIP first
 *     ├─ lds-b  director B 10.20.0.2   the same config
 *     └─ lds-c  client 10.20.0.10      one TCP connection to VIP:8090, kept open
 *
 * The client talks through A, A's master thread sends the connection to B's backup
 * thread, then A drops off the link and the VIP moves to B (the client's ARP entry is
 * pointed at B, as IPaddr2's gratuitous ARP would). A packet of the same connection that
 * reaches B without B knowing it is not forwarded (not a SYN) but reset by B's own stack;
 * with the synchronised entry, B forwards it to the real and the conversation goes on.
 * The same switchover without syncdaemon= (a Perl config) is run too, and the connection
 * must break there: otherwise this test would prove nothing.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { CLI } from '../helpers/env';
import { waitUntil } from '../helpers/wait';
import { IPVSADM, requireVm, sleep } from './lab';

const VIP = '10.20.0.50';
const PORT = 8090;
const REAL = '10.20.0.100';
const DIR = '/tmp/ldsync';
const NODES = { a: 1, b: 2, c: 10 } as const;

const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
const quiet = (cmd: string, args: string[]) => {
  try {
    sh(cmd, args);
  } catch {
    // already gone
  }
};
const ipvs = (ns: string, ...args: string[]) => sh('ip', ['netns', 'exec', ns, IPVSADM, ...args]);

/** Both directors' tables, connections and sync threads, and the log's tail, for a failure message. */
function report(): string {
  const out: string[] = [];
  for (const ns of ['lds-a', 'lds-b']) {
    try {
      out.push(`--- ${ns}:`, ipvs(ns, '-S', '-n'), ipvs(ns, '-L', '-n', '-c'), ipvs(ns, '-L', '--daemon'));
    } catch (e) {
      out.push(`--- ${ns}: ${(e as Error).message}`);
    }
  }
  try {
    out.push('--- log:', readFileSync(join(DIR, 'ldirectord.log'), 'utf8').split('\n').slice(-20).join('\n'));
  } catch {
    // no log yet
  }
  return out.join('\n');
}

/** Run the CLI in a director's namespace, with a run directory of its own. */
function cli(ns: string, args: string[]): Promise<{ code: number | null; out: string }> {
  const env = { ...process.env, LDIRECTORD_RUN_DIR: join(DIR, ns), LDIRECTORD_START_TIMEOUT: '180' };
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns, process.execPath, CLI, ...args], { env, timeout: 240_000 }, (e, so, se) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? null) : 0, out: `${so}${se}` }),
    );
  });
}

const config = (sync: boolean) => `logfile="${DIR}/ldirectord.log"
checkinterval=1
checktimeout=2
${sync ? 'syncdaemon=both eth0 7\n' : ''}virtual=${VIP}:${PORT}
	real=${REAL}:${PORT} gate
	checktype=connect
	scheduler=rr
`;

/** The client: one connection, a line in per stdin line, every event out on stdout. */
const CLIENT = `
const s = require('net').connect(${PORT}, '${VIP}');
s.on('connect', () => console.log('connected'));
s.on('data', (d) => console.log('got ' + String(d).trim()));
s.on('error', (e) => console.log('error ' + e.code));
s.on('close', () => { console.log('closed'); process.exit(0); });
process.stdin.on('data', (d) => s.write(d));
`;

class Client {
  readonly lines: string[] = [];
  private readonly child: ChildProcess;
  constructor() {
    this.child = spawn('ip', ['netns', 'exec', 'lds-c', process.execPath, '-e', CLIENT], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.child.on('error', (e) => this.lines.push(`spawn error ${e.message}`));
    let buf = '';
    this.child.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      this.lines.push(...parts);
    });
  }
  /** Send a line and wait for its echo; false when the connection broke instead. */
  async say(text: string, timeoutMs = 15_000): Promise<boolean> {
    this.child.stdin!.write(text + '\n');
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.lines.includes(`got real:${text}`)) return true;
      if (this.lines.some((l) => /^(error|closed)/.test(l))) return false;
      await sleep(50);
    }
    return false;
  }
  end(): void {
    this.child.kill('SIGKILL');
  }
}

describe('VM: IPVS connection sync (syncdaemon=)', function () {
  let server: Server;
  const sockets = new Set<Socket>();

  before(async function () {
    requireVm();
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    server = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      s.on('data', (d) => s.write(`real:${d}`));
    });
    await new Promise<void>((r) => server.listen(PORT, '0.0.0.0', r));
  });

  after(async () => {
    server?.close();
    for (const s of sockets) s.destroy();
    rmSync(DIR, { recursive: true, force: true });
  });

  beforeEach(() => {
    // The real: on the bridge, with the VIP on lo and no ARP answers for it (direct routing).
    sh('ip', ['link', 'add', 'ldsbr', 'type', 'bridge']);
    sh('ip', ['addr', 'add', `${REAL}/24`, 'dev', 'ldsbr']);
    sh('ip', ['link', 'set', 'ldsbr', 'up']);
    sh('ip', ['addr', 'add', `${VIP}/32`, 'dev', 'lo']);
    sh('sysctl', ['-q', '-w', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
    for (const [name, host] of Object.entries(NODES)) {
      const ns = `lds-${name}`;
      sh('ip', ['netns', 'add', ns]);
      sh('ip', ['link', 'add', ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      sh('ip', ['link', 'set', ns, 'master', 'ldsbr', 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', `10.20.0.${host}/24`, 'dev', 'eth0']);
      sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      mkdirSync(join(DIR, ns), { recursive: true });
    }
  });

  afterEach(async () => {
    for (const ns of ['lds-a', 'lds-b']) await cli(ns, [join(DIR, `${ns}.cf`), 'stop']);
    for (const name of Object.keys(NODES)) {
      const ns = `lds-${name}`;
      for (const pid of sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean)) quiet('kill', ['-9', pid]);
      quiet('ip', ['netns', 'del', ns]);
    }
    quiet('ip', ['link', 'del', 'ldsbr']);
    quiet('ip', ['addr', 'del', `${VIP}/32`, 'dev', 'lo']);
    sh('sysctl', ['-q', '-w', 'net.ipv4.conf.all.arp_ignore=0', 'net.ipv4.conf.all.arp_announce=0']);
  });

  /** Both directors running this daemon, the VIP on A, a client talking through A. */
  async function setUp(sync: boolean): Promise<Client> {
    for (const ns of ['lds-a', 'lds-b']) {
      writeFileSync(join(DIR, `${ns}.cf`), config(sync));
      const r = await cli(ns, [join(DIR, `${ns}.cf`), 'start']);
      assert.equal(r.code, 0, r.out);
    }
    for (const ns of ['lds-a', 'lds-b'])
      await waitUntil(`${ns}'s table`, () => ipvs(ns, '-S', '-n').includes(`-r ${REAL}:${PORT} -g`), 60_000, report);
    sh('ip', ['-n', 'lds-a', 'addr', 'add', `${VIP}/24`, 'dev', 'eth0']);
    const client = new Client();
    for (const m of ['one', 'two', 'three']) assert.ok(await client.say(m), `through A: ${client.lines.join(' | ')}`);
    assert.match(
      ipvs('lds-a', '-L', '-n', '-c'),
      /ESTABLISHED 10\.20\.0\.10:\d+ +10\.20\.0\.50:8090 +10\.20\.0\.100:8090/,
    );
    return client;
  }

  /** A drops off the link; the VIP comes up on B and the client's ARP entry points there. */
  function switchToB(): void {
    sh('ip', ['-n', 'lds-a', 'link', 'set', 'eth0', 'down']);
    sh('ip', ['-n', 'lds-b', 'addr', 'add', `${VIP}/24`, 'dev', 'eth0']);
    const mac = /link\/ether ([0-9a-f:]+)/.exec(sh('ip', ['-n', 'lds-b', 'link', 'show', 'eth0']))![1]!;
    sh('ip', ['-n', 'lds-c', 'neigh', 'replace', VIP, 'lladdr', mac, 'dev', 'eth0', 'nud', 'reachable']);
  }

  it('syncdaemon=both: B learns the connection from A, and it survives the switch to B', async () => {
    const client = await setUp(true);
    try {
      for (const ns of ['lds-a', 'lds-b']) {
        // ipvsadm 1.31 adds maxlen, group, port and ttl after the sync id.
        assert.match(
          ipvs(ns, '-L', '--daemon'),
          /^master sync daemon \(mcast=eth0, syncid=7[,)].*\nbackup sync daemon \(mcast=eth0, syncid=7[,)].*\n$/,
        );
        const st = await cli(ns, [join(DIR, `${ns}.cf`), 'status', '-v']);
        assert.match(st.out, /sync daemon: master on eth0 syncid 7 \(running\), backup on eth0 syncid 7 \(running\)/);
      }
      // The master sends what it has every 2 s at most: B knows the connection before the switch.
      await waitUntil(
        'the connection on B',
        () => / ESTABLISHED 10\.20\.0\.10:/.test(ipvs('lds-b', '-L', '-n', '-c')),
        20_000,
        report,
      );
      switchToB();
      assert.ok(await client.say('after the switch'), `through B: ${client.lines.join(' | ')}`);
      assert.ok(await client.say('and again'));
      // A is off the link and the client sends to B's MAC: only B's entry can have carried it.
      assert.match(
        ipvs('lds-b', '-L', '-n', '-c'),
        /ESTABLISHED 10\.20\.0\.10:\d+ +10\.20\.0\.50:8090 +10\.20\.0\.100:8090/,
      );
      // Stopping the daemon stops the threads it started.
      assert.equal((await cli('lds-b', [join(DIR, 'lds-b.cf'), 'stop'])).code, 0);
      assert.equal(ipvs('lds-b', '-L', '--daemon'), '');
      assert.match(
        readFileSync(join(DIR, 'ldirectord.log'), 'utf8'),
        /Started IPVS sync daemon: backup on eth0, syncid 7/,
      );
    } finally {
      client.end();
    }
  });

  it('without it (a Perl config), the same switch breaks the connection', async () => {
    const client = await setUp(false);
    try {
      assert.equal(ipvs('lds-a', '-L', '--daemon'), '', 'a Perl config starts no sync thread');
      await sleep(3000); // as long as the synchronised run waited at most
      assert.doesNotMatch(ipvs('lds-b', '-L', '-n', '-c'), /ESTABLISHED/);
      switchToB();
      assert.equal(await client.say('after the switch', 8000), false, client.lines.join(' | '));
      assert.ok(
        client.lines.some((l) => /^(error ECONNRESET|closed)$/.test(l)),
        client.lines.join(' | '),
      );
    } finally {
      client.end();
    }
  });
});
