/**
 * `ldirectord CONFIG drain|undrain` against a running daemon (issue 22, item 4), with the
 * recording ipvsadm: the real goes to weight 0, then out; the drain is in `status -v`,
 * `show --json` and the metrics; it survives a SIGKILL and a restart (the state file); undrain
 * gives the real back to its checks. (The kernel's connection counts are the VM suite's.)
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Director } from '../helpers/director';
import { scrapeMetrics } from '../helpers/net';
import { freePort } from '../helpers/throwaway';

const TABLE = (second: string) => `-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.24.2:8080 -m -w 2\n${second}`;

describe('drain and undrain', function () {
  this.timeout(90000);
  let d: Director;
  before(async () => {
    d = new Director('drain.cf');
    await d.listen('127.50.24.2', 8080);
    await d.listen('127.50.24.3', 8080);
  });
  after(() => d.cleanup());

  it('drains a real until undrain, through a SIGKILL and a restart', async () => {
    d.config(`
checkinterval=1
checktimeout=1
virtual=10.0.0.1:80
	real=127.50.24.2:8080 masq 2
	real=127.50.24.3:8080 masq 5
	checktype=connect
	quiescent=no
`);
    assert.equal((await d.cli([d.cfg, 'drain', '127.50.24.3'])).code, 3, 'no daemon: status 3');
    // A dry-run whose stdin is not a terminal (a pipe here) prints its plan: it used to end
    // silently with status 0 while it waited for its checks.
    const plan = await d.cli(['--dry-run', d.cfg]);
    assert.equal(plan.code, 1, plan.stderr);
    assert.match(plan.stdout, /^-A -t 10\.0\.0\.1:80 -s wrr\n/);
    const port = await freePort([['tcp', '127.0.0.1']]);
    assert.equal((await d.cli(['--metrics', String(port), d.cfg, 'start'])).code, 0);
    await d.waitTable(TABLE('-a -t 10.0.0.1:80 -r 127.50.24.3:8080 -m -w 5\n'));

    const nothing = await d.cli([d.cfg, 'drain', '127.50.24.9:8080']);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /no real server 127\.50\.24\.9:8080/);
    const drained = await d.cli([d.cfg, 'drain', '127.50.24.3:8080', '--timeout', '600']);
    assert.equal(drained.code, 0, drained.stderr);
    assert.equal(drained.stdout, 'draining 127.50.24.3:8080 in tcp:10.0.0.1:80\n');
    // Weight 0 first, then out (no connection is open here), and never put back by the resync.
    await d.waitTable(TABLE(''));
    assert.ok(d.commands().includes('-e -t 10.0.0.1:80 -r 127.50.24.3:8080 -m -w 0'), d.commands().join('\n'));
    const state = join(d.runDir, 'drain.cf.state');
    assert.equal(JSON.parse(readFileSync(state, 'utf8')).drains['tcp:10.0.0.1:80|127.50.24.3:8080'].phase, 'drained');
    const verbose = await d.cli([d.cfg, 'status', '-v']);
    assert.match(verbose.stdout, /127\.50\.24\.3:8080\s+drained\s+5\s+-/);
    const show = JSON.parse((await d.cli([d.cfg, 'show', '--json'])).stdout);
    assert.equal(show.virtuals[0].reals[1].drain.phase, 'drained');
    assert.match(
      await scrapeMetrics(port),
      /ldirectord_real_draining\{virtual="tcp:10\.0\.0\.1:80",real="127\.50\.24\.3:8080"\} 1/,
    );

    // A dry-run previews what the daemon would do: the drained real stays out.
    const preview = await d.cli(['--dry-run', d.cfg]);
    assert.equal(preview.code, 0, preview.stdout + preview.stderr);
    assert.equal(preview.stdout, '');

    // SIGKILL and start again: still out.
    process.kill(d.pid()!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await d.cli([d.cfg, 'start'])).code, 0);
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(d.table(), TABLE(''), 'the drained real stays out after a restart');

    const back = await d.cli([d.cfg, 'undrain', '127.50.24.3', '--virtual', '10.0.0.1:80']);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(back.stdout, 'undrained 127.50.24.3:8080 in tcp:10.0.0.1:80\n');
    await d.waitTable(TABLE('-a -t 10.0.0.1:80 -r 127.50.24.3:8080 -m -w 5\n'));
    assert.equal(existsSync(state), false, 'nothing left to keep');
    assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
  });
});
