/**
 * checktype=external and external-perl: real scripts in a temp folder, run as the daemon
 * runs them (argv, no shell, own process group, clean environment).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProbe } from '../../src/checks/run';
import type { ExternalSpec } from '../../src/checks/external';
import { requirePart, which } from '../helpers/env';
import { eventually } from '../helpers/net';

/** Whether pid is a live process (a zombie waiting for an absent reaper counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('checks: external and external-perl', function () {
  this.timeout(20000);
  let dir: string;
  const script = (name: string, body: string): string => {
    const p = join(dir, name);
    writeFileSync(p, body);
    chmodSync(p, 0o755);
    return p;
  };
  const spec = (command: string, over: Partial<ExternalSpec> = {}): ExternalSpec => ({
    kind: 'external',
    command,
    args: ['10.0.0.1', '80', '127.10.5.1', '8080'],
    interpreter: null,
    timeoutMs: 3000,
    ...over,
  });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ldirectord-external-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is up on exit 0', async () => {
    const r = await runProbe(spec(script('ok.sh', '#!/bin/sh\nexit 0\n')));
    assert.deepEqual([r.up, r.reason], [true, 'exit status 0']);
  });

  it('is down on exit 1, with the end of stderr in the reason', async () => {
    const r = await runProbe(spec(script('fail.sh', '#!/bin/sh\necho "backend says no" >&2\nexit 1\n')));
    assert.deepEqual([r.up, r.reason], [false, 'exit status 1: backend says no']);
  });

  it('keeps only the last ~200 bytes of stderr, on one line', async () => {
    const r = await runProbe(
      spec(
        script(
          'noisy.sh',
          '#!/bin/sh\nhead -c 5000 /dev/zero | tr "\\0" x >&2\necho >&2\necho "first line" >&2\necho "LAST LINE" >&2\nexit 2\n',
        ),
      ),
    );
    assert.equal(r.up, false);
    assert.match(r.reason, /^exit status 2: x+ \| first line \| LAST LINE$/);
    assert.ok(r.reason.length < 240, r.reason);
  });

  it('says which signal killed the command', async () => {
    const r = await runProbe(spec(script('segv.sh', '#!/bin/sh\nkill -SEGV $$\nsleep 5\n')));
    assert.deepEqual([r.up, r.reason], [false, 'killed by SIGSEGV']);
  });

  it('passes exactly vip vport rip rport as arguments (no shell: spaces and $ stay as they are)', async () => {
    const out = join(dir, 'args.out');
    const cmd = script(
      'args.sh',
      `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > ${out}\necho "$#" >> ${out}\n`,
    );
    const r = await runProbe(spec(cmd, { args: ['[2001:db8::1]', '0', '127.10.5.1', '$HOME; rm -rf /'] }));
    assert.equal(r.up, true);
    assert.deepEqual(readFileSync(out, 'utf8').split('\n'), [
      '[2001:db8::1]',
      '0',
      '127.10.5.1',
      '$HOME; rm -rf /',
      '4',
      '',
    ]);
  });

  it('runs with a clean environment, stdin from /dev/null, in /', async () => {
    const out = join(dir, 'env.out');
    process.env.LDIRECTORD_TEST_LEAK = 'daemon-only';
    const cmd = script(
      'env.sh',
      `#!/bin/sh\nenv | sort > ${out}\npwd >> ${out}\nif read line; then echo "stdin had data" >> ${out}; else echo "stdin EOF" >> ${out}; fi\n`,
    );
    const r = await runProbe(spec(cmd, { timeoutMs: 2000 }));
    delete process.env.LDIRECTORD_TEST_LEAK;
    assert.equal(r.up, true);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    const env = lines.filter((l) => /^[A-Z_]+=/.test(l) && !/^(PWD|SHLVL|_|OLDPWD)=/.test(l));
    assert.deepEqual(env, [
      'LANG=C',
      'LDIRECTORD_RIP=127.10.5.1',
      'LDIRECTORD_RPORT=8080',
      'LDIRECTORD_TIMEOUT=2',
      'LDIRECTORD_VIP=10.0.0.1',
      'LDIRECTORD_VPORT=80',
      'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
    ]);
    assert.ok(lines.includes('/'));
    assert.ok(lines.includes('stdin EOF'));
  });

  it('drains a large stdout without blocking the command', async () => {
    const r = await runProbe(spec(script('chatty.sh', '#!/bin/sh\nhead -c 10000000 /dev/zero\nexit 0\n')));
    assert.deepEqual([r.up, r.reason], [true, 'exit status 0']);
  });

  it('is down with ENOENT for a missing command', async () => {
    const r = await runProbe(spec('/nonexistent/ldirectord-check'));
    assert.deepEqual([r.up, r.reason], [false, 'cannot run /nonexistent/ldirectord-check: ENOENT']);
  });

  it('is down with EACCES for a file that is not executable', async () => {
    const p = join(dir, 'noexec.sh');
    writeFileSync(p, '#!/bin/sh\nexit 0\n');
    chmodSync(p, 0o644);
    // (Even root cannot exec a file with no x bit at all.)
    const r = await runProbe(spec(p));
    assert.deepEqual([r.up, r.reason], [false, `cannot run ${p}: EACCES`]);
  });

  it('does not split a command with spaces (exec(LIST), as Perl)', async () => {
    const p = script('ok2.sh', '#!/bin/sh\nexit 0\n');
    const r = await runProbe(spec(`${p} --flag`));
    assert.deepEqual([r.up, r.reason], [false, `cannot run ${p} --flag: ENOENT`]);
  });

  it('kills the whole process group at the deadline, children included', async () => {
    const pids = join(dir, 'forever.pids');
    const cmd = script('forever.sh', `#!/bin/sh\nsleep 1000 &\necho $$ $! > ${pids}\nwait\n`);
    const r = await runProbe(spec(cmd, { timeoutMs: 700 }));
    assert.deepEqual([r.up, r.reason], [false, 'timed out after 0.7 s']);
    assert.ok(existsSync(pids), 'the script did not start');
    const [sh, child] = readFileSync(pids, 'utf8').trim().split(' ').map(Number) as [number, number];
    assert.ok(
      await eventually(() => !alive(sh) && !alive(child)),
      `still running: ${[sh, child].filter(alive).join(' ')}`,
    );
  });

  it('kills a group that ignores SIGTERM (SIGKILL follows)', async () => {
    const pids = join(dir, 'stubborn.pids');
    const cmd = script(
      'stubborn.sh',
      `#!/bin/sh\ntrap '' TERM\nsh -c 'trap "" TERM; sleep 1000' &\necho $$ $! > ${pids}\nwhile :; do sleep 1; done\n`,
    );
    const r = await runProbe(spec(cmd, { timeoutMs: 700 }));
    assert.deepEqual([r.up, r.reason], [false, 'timed out after 0.7 s']);
    const [sh, child] = readFileSync(pids, 'utf8').trim().split(' ').map(Number) as [number, number];
    assert.ok(
      await eventually(() => !alive(sh) && !alive(child)),
      `still running: ${[sh, child].filter(alive).join(' ')}`,
    );
  });

  it('does not wait for a background child that keeps the output pipes open', async () => {
    const pids = join(dir, 'bg.pids');
    const cmd = script('bg.sh', `#!/bin/sh\nsleep 1000 &\necho $! > ${pids}\nexit 0\n`);
    const r = await runProbe(spec(cmd, { timeoutMs: 2000 }));
    assert.deepEqual([r.up, r.reason], [true, 'exit status 0']);
    const child = Number(readFileSync(pids, 'utf8').trim());
    process.kill(child, 'SIGKILL');
  });

  describe('external-perl', () => {
    before(function () {
      requirePart(this, which('perl') ? null : 'perl is not installed');
    });
    const perl = (name: string, code: string, args?: string[]): ExternalSpec => {
      const p = join(dir, name);
      writeFileSync(p, code);
      return spec(p, { interpreter: 'perl', ...(args ? { args } : {}) });
    };

    it('is up when the code falls off the end', async () => {
      const r = await runProbe(perl('end.pl', 'my $x = 1;\n'));
      assert.deepEqual([r.up, r.reason], [true, 'exit status 0']);
    });

    it('exit(N) gives N', async () => {
      const r = await runProbe(perl('exit3.pl', 'exit(3);\n'));
      assert.deepEqual([r.up, r.reason], [false, 'exit status 3']);
      const r0 = await runProbe(perl('exit0.pl', 'exit(0);\n'));
      assert.equal(r0.up, true);
    });

    it('die is down, with its message', async () => {
      const r = await runProbe(perl('die.pl', 'die "backend unhappy\\n";\n'));
      assert.deepEqual([r.up, r.reason], [false, 'exit status 255: backend unhappy']);
    });

    it('gets the arguments in @ARGV', async () => {
      const code =
        'my ($vip, $vport, $rip, $rport) = @ARGV;\nexit(($vip eq "10.0.0.1" && $vport == 80 && $rip eq "127.10.5.1" && $rport == 8080 && @ARGV == 4) ? 0 : 1);\n';
      const r = await runProbe(perl('args.pl', code));
      assert.deepEqual([r.up, r.reason], [true, 'exit status 0']);
    });

    it('is down when the check file is missing', async () => {
      const r = await runProbe(spec(join(dir, 'absent.pl'), { interpreter: 'perl' }));
      assert.equal(r.up, false);
      assert.match(r.reason, /^exit status 2: Can't open perl script/);
    });

    it('is killed at the deadline', async () => {
      const r = await runProbe({ ...perl('loop.pl', 'sleep 1 while 1;\n'), timeoutMs: 500 });
      assert.deepEqual([r.up, r.reason], [false, 'timed out after 0.5 s']);
    });
  });
});
