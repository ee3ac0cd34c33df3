/**
 * `logs -f` on what the daemon itself writes: start it (fake ipvsadm, run dir in a temp
 * folder) on a real server the test listens with, take the server away, and read the
 * transitions back as --json events. Guards the parser against drift in the daemon's
 * messages.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from '../helpers/env';
import { Follower } from './run';

describe('logs -f on the running daemon', function () {
  this.timeout(60_000);
  let dir: string;
  let server: Server | null = null;
  let f: Follower | null = null;
  let config: string;
  const env = () => ({ LDIRECTORD_RUN_DIR: dir });
  const ctl = (command: string, extra: string[] = []) =>
    spawnSync(process.execPath, [CLI, ...extra, config, command], {
      encoding: 'utf8',
      env: { ...process.env, ...env() },
      timeout: 30_000,
    });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ld-logs-daemon-'));
  });
  after(async () => {
    await f?.stop('SIGKILL');
    if (config) ctl('stop');
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('real-added when the server listens, real-down and real-deleted when it stops', async () => {
    server = createServer((s) => s.end());
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const ipvsadm = spawnSync(
      process.execPath,
      [join(ROOT, 'dist', 'testing', 'fake-ipvsadm.js'), '--install', join(dir, 'ipvs')],
      { encoding: 'utf8' },
    ).stdout.trim();
    const log = join(dir, 'ldirectord.log');
    config = join(dir, 'live.cf');
    writeFileSync(
      config,
      `logfile="${log}"\ncheckinterval=1\nchecktimeout=1\nquiescent=no\nvirtual=10.0.0.1:80\n\treal=127.0.0.1:${port} masq 3\n\tchecktype=connect\n`,
    );

    // Following before the daemon starts: the log does not exist yet.
    f = new Follower([config, 'logs', '-f', '--json', '--real', `127.0.0.1:${port}`], env());
    await f.until('the waiting notice', () => f!.stderr.includes('does not exist; waiting for it'));
    const started = ctl('start', ['--ipvsadm', ipvsadm]);
    assert.equal(started.status, 0, started.stderr);

    const events = () =>
      f!.lines.map(
        (l) => JSON.parse(l) as { event?: string; real?: string; virtual?: string; weight?: number; cfgname: string },
      );
    await f.until('real-added', () => events().some((e) => e.event === 'real-added'), 30_000);
    const added = events().find((e) => e.event === 'real-added')!;
    assert.deepEqual(
      { real: added.real, virtual: added.virtual, weight: added.weight, cfgname: added.cfgname },
      { real: `127.0.0.1:${port}`, virtual: '10.0.0.1:80', weight: 3, cfgname: 'live.cf' },
    );

    await new Promise<void>((r) => server!.close(() => r()));
    server = null;
    await f.until('real-deleted', () => events().some((e) => e.event === 'real-deleted'), 30_000);
    const seen = events().map((e) => e.event);
    assert.ok(
      seen.indexOf('real-down') >= 0 && seen.indexOf('real-down') < seen.indexOf('real-deleted'),
      seen.join(', '),
    );
    assert.ok(
      events().every((e) => e.real === `127.0.0.1:${port}`),
      'only lines about that real',
    );
    assert.match(readFileSync(log, 'utf8'), /Starting Linux Director/);

    assert.equal(ctl('stop').status, 0);
    assert.equal(await f.stop('SIGINT'), 0);
  });
});
