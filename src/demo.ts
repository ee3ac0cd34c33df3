/**
 * The README's first command: a self-contained demonstration, nothing installed.
 *
 * Three local web servers (and a "sorry" server as the fallback) on 127.77.0.x, the
 * daemon in the foreground against a recording stand-in for ipvsadm (this machine may
 * have no IPVS), HTTP negotiate checks every second with quiescent=yes. Then:
 * one server fails and is quiesced, every server fails and the fallback comes in, they
 * recover and the fallback goes out; a dry-run previews a config change; stop cleans up.
 * At each step the IPVS table and `ldirectord status -v` are shown.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = join(__dirname, 'cli.js');
const FAKE = join(__dirname, 'testing', 'fake-ipvsadm.js');
const color = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[0m` : s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Run a command without blocking: the demo's web servers live in this process. */
async function run(
  file: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await promisify(execFile)(file, args, { env, encoding: 'utf8' });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; code?: number };
    return { stdout: x.stdout ?? '', stderr: x.stderr ?? '', code: typeof x.code === 'number' ? x.code : 1 };
  }
}

/** A web server whose health the demo switches. */
class Web {
  healthy = true;
  server: Server;
  constructor(
    readonly name: string,
    readonly host: string,
  ) {
    this.server = createServer((req, res) => {
      if (req.url === '/health' && this.healthy) res.writeHead(200).end(`OK ${name}\n`);
      else res.writeHead(503).end('unavailable\n');
    });
  }
  listen(): Promise<void> {
    return new Promise((r) => this.server.listen(8080, this.host, r));
  }
}

async function demo(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'ldirectord-demo-'));
  const ipvsadm = (await run(process.execPath, [FAKE, '--install', join(dir, 'kernel')])).stdout.trim();
  const env = { ...process.env, LDIRECTORD_RUN_DIR: dir, LDIRECTORD_IPVSADM: ipvsadm };
  const webs = [new Web('web1', '127.77.0.2'), new Web('web2', '127.77.0.3'), new Web('web3', '127.77.0.4')];
  const sorry = new Web('sorry', '127.77.0.9');
  for (const w of [...webs, sorry]) await w.listen();
  const cfg = join(dir, 'demo.cf');
  const config = (weight3: number) => `# ldirectord demo
checkinterval=1
negotiatetimeout=3
quiescent=yes
logfile="${join(dir, 'ldirectord.log')}"

virtual=10.77.0.1:80
	real=127.77.0.2:8080 masq 1
	real=127.77.0.3:8080 masq 2
	real=127.77.0.4:8080 masq ${weight3}
	fallback=127.77.0.9:8080 masq
	service=http
	request="/health"
	receive="OK"
	scheduler=wlc
`;
  writeFileSync(cfg, config(3));

  const table = async () => (await run(ipvsadm, ['-S', '-n'])).stdout;
  const show = async (title: string) => {
    process.stdout.write(`\n${bold(`== ${title}`)}\n${dim('$ ipvsadm -S -n')}\n${(await table()) || '(empty)\n'}`);
    process.stdout.write(`${dim('$ ldirectord demo.cf status -v')}\n`);
    process.stdout.write(
      (await run(process.execPath, [CLI, cfg, 'status', '-v'], env)).stdout.replace(
        /^ldirectord for \S+: /,
        'ldirectord: ',
      ),
    );
  };
  const waitFor = async (what: string, ok: (t: string) => boolean) => {
    for (let i = 0; i < 150; i++) {
      if (ok(await table())) return;
      await sleep(100);
    }
    throw new Error(`demo: ${what} did not happen`);
  };

  process.stdout.write(
    bold('ldirectord demo: three web servers behind 10.77.0.1:80, checked over HTTP every second\n'),
  );
  process.stdout.write(dim(`config ${cfg}, IPVS table kept by a recording ipvsadm (${ipvsadm})\n`));
  process.stdout.write(dim("daemon log (the original's message catalogue):\n"));
  const daemon: ChildProcess = spawn(process.execPath, [CLI, '-d', cfg, 'start'], {
    env,
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  daemon.stderr!.on('data', (b: Buffer) => {
    for (const line of b.toString().split('\n').filter(Boolean)) process.stdout.write(dim('  log| ') + line + '\n');
  });
  try {
    await waitFor('start', (t) => t.includes('127.77.0.4:8080 -m -w 3'));
    await show('all three servers answer: in at their weights');

    webs[1]!.healthy = false;
    await waitFor('quiesce', (t) => t.includes('127.77.0.3:8080 -m -w 0'));
    await show('web2 answers 503: quiesced (weight 0, its connections drain)');

    for (const w of webs) w.healthy = false;
    await waitFor('fallback', (t) => t.includes('127.77.0.9:8080'));
    await show('every server fails: the fallback (sorry server) takes the traffic');

    for (const w of webs) w.healthy = true;
    // All three back at their weights (each comes back at its own next check).
    await waitFor(
      'recovery',
      (t) =>
        !t.includes('127.77.0.9:8080') &&
        ['127.77.0.2:8080 -m -w 1', '127.77.0.3:8080 -m -w 2', '127.77.0.4:8080 -m -w 3'].every((d) => t.includes(d)),
    );
    await show('they recover: restored, the fallback is out');

    writeFileSync(join(dir, 'demo-new.cf'), config(5));
    process.stdout.write(
      `\n${bold('== preview a config change (web3 weight 3 -> 5) without applying it')}\n${dim('$ ldirectord --dry-run demo-new.cf')}\n`,
    );
    const dry = await run(process.execPath, [CLI, '--dry-run', join(dir, 'demo-new.cf')], env);
    process.stdout.write(dry.stdout + dim(dry.stderr) + dim(`(exit ${dry.code}: 1 means there is a plan)\n`));
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    process.stdout.write(
      `\n${bold('== stopped (cleanstop=yes): the managed service is gone')}\n${(await table()) || '(empty)\n'}`,
    );
    for (const w of [...webs, sorry]) w.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

demo().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
