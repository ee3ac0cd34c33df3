/**
 * A reload with a broken config, then the config fixed (W-1, W-14).
 *
 * Perl: `ldirectord <cfg> reload` (and `status`) parse the file first; on an error they
 * delete the running daemon's pid file and exit 2 without signalling it (W-1), so the CLI
 * can no longer reach the daemon: the test signals both daemons directly from there on.
 * A HUP with the broken file restores the old virtual services but not the list of
 * reals (W-14): check results no longer reach the table until a good reload.
 * This daemon: the CLI refuses the broken file (exit 2), `status` still answers from the
 * pid file, and the daemon keeps its running config whole.
 *
 * Side by side with Debian's Perl ldirectord: see scenario.ts for how the runs are
 * compared, and cases.ts for the common pieces. Real servers listen on
 * 127.40.<n>.0/24 and virtual addresses are 10.40.<n>.0/24, <n> unique per scenario.
 */
import { existsSync } from 'node:fs';
import { GLOBAL, check, step } from './cases';

describe('daemon vs the Perl original, side by side: broken reload', function () {
  this.timeout(600000);

  it('reload with a broken config (CLI, then HUP), a real down, HUP with the config fixed, TERM', async function () {
    const ip = (n: number) => `127.40.8.${n}`;
    const body = (last: string) => `${GLOBAL}quiescent=no

virtual=10.40.8.1:80
	real=${ip(2)}:8080 masq 1
	real=${ip(3)}:8080 masq 2
	checktype=connect
${last}`;
    const good = body('');
    // The error is in the virtual block, after its reals.
    const broken = body('\tnosuchdirective=1\n');
    const W1 =
      "W-1 (README: status and stop work from the pid file with a broken config, and never delete a running daemon's pid file)";
    const W14 = 'W-14 (README: a reload parses the whole new file first; an invalid file changes nothing)';
    await check(this, {
      name: 'broken-reload',
      config: good,
      servers: (rs) => {
        for (const n of [2, 3]) rs.add(ip(n), 8080);
      },
      steps: [
        step('start', (c) => c.start(), { flap: true }),
        step(
          '`reload` with a broken config',
          async (c) => {
            for (const s of c.sides) s.writeConfig(broken);
            const [p, o] = await c.both('reload');
            if (p.code !== 2 || o.code !== 2)
              c.problem(
                `reload of a broken config: exit codes perl ${p.code} ours ${o.code} (2 expected from both)\n    perl: ${p.stderr}\n    ours: ${o.stderr}`,
              );
            // W-1: Perl's reload deleted its running daemon's pid file; ours leaves it.
            if (existsSync(c.perl.pidFile))
              c.problem(`${W1}: Perl's reload of a broken config was expected to delete ${c.perl.pidFile}`);
            if (!existsSync(c.ours.pidFile) || c.ours.daemonPid() === null)
              c.problem(`${W1}: our reload of a broken config must leave the pid file of the running daemon`);
            // And status, which parses the config first: Perl fails (2), ours answers from the pid file.
            const st = await c.statusOf();
            if (st.perl.code !== 2 || !st.perl.stderr.includes('Unknown command'))
              c.problem(
                `${W1}: Perl's status with the broken config was expected to fail with exit 2: ${JSON.stringify(st.perl)}`,
              );
            if (st.ours.code !== 0 || !/is running with pid: <PID>/.test(st.ours.stderr))
              c.problem(
                `${W1}: our status with the broken config must still say running (exit 0): ${JSON.stringify(st.ours)}`,
              );
          },
          { moves: false },
        ),
        step('HUP with the broken config still on disk', async (c) => c.signal('SIGHUP'), { moves: false }),
        step(`${ip(3)}:8080 down`, (c) => c.down(`${ip(3)}:8080`)),
        step(
          'HUP with the config fixed',
          async (c) => {
            for (const s of c.sides) s.writeConfig(good);
            c.signal('SIGHUP');
          },
          // Perl's reload now catches up with what this daemon did at once.
          { flap: true, moves: false },
        ),
        step('TERM (Perl can no longer be stopped through its pid file)', async (c) => {
          c.signal('SIGTERM');
          await Promise.all(c.sides.map((s) => s.waitStopped()));
        }),
      ],
      deliberate: [
        // After the failed HUP, Perl's reals belong to the discarded parse (@REAL is rebuilt,
        // @VIRTUAL restored): check results no longer reach the table, so the dead real keeps
        // its weight until the next good reload.
        {
          ref: W14,
          at: [`${ip(3)}:8080 down`],
          table: { perl: [`-a -t 10.40.8.1:80 -r ${ip(3)}:8080 -m -w 2`], ours: [] },
          log: { perl: [], ours: [`Deleted real server: ${ip(3)}:8080 (10.40.8.1:80)`] },
        },
        {
          ref: W14,
          at: ['HUP with the config fixed'],
          log: { perl: [`Deleted real server: ${ip(3)}:8080 (10.40.8.1:80)`], ours: [] },
        },
      ],
    });
  });
});
