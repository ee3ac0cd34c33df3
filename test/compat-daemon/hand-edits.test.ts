/**
 * An operator edits the table by hand while the daemons run (quiescent=yes,
 * readdquiescent=no).
 *
 * - A live real deleted by hand: Perl reads the table back only when a real changes state
 *   (W-19), so it stays out; this daemon re-reads the table every check interval and puts
 *   it back.
 * - A quiesced (down) real deleted by hand: both leave it out while it is down (the
 *   readdquiescent=no contract), and both add it again once it answers.
 *
 * Side by side with Debian's Perl ldirectord: see scenario.ts for how the runs are
 * compared, and cases.ts for the common pieces. Real servers listen on
 * 127.40.<n>.0/24 and virtual addresses are 10.40.<n>.0/24, <n> unique per scenario.
 */
import { GLOBAL, check, step } from './cases';

describe('daemon vs the Perl original, side by side: hand edits', function () {
  this.timeout(600000);

  it('quiescent=yes: a live real deleted by hand, a quiesced real deleted by hand, back, stop', async function () {
    const ip = (n: number) => `127.40.10.${n}`;
    const V = '10.40.10.1:80';
    const W19 = 'W-19 (README: a periodic resync repairs hand edits)';
    await check(this, {
      name: 'hand-edits',
      config: `${GLOBAL}quiescent=yes

virtual=${V}
	real=${ip(2)}:8080 masq 1
	real=${ip(3)}:8080 masq 2
	checktype=connect
`,
      servers: (rs) => {
        for (const n of [2, 3]) rs.add(ip(n), 8080);
      },
      steps: [
        step('start', (c) => c.start(), { flap: true }),
        // This daemon's table ends as it was (repaired), hence moves: false.
        step(`${ip(3)}:8080 (up) deleted by hand`, async (c) => c.hand(`-d -t ${V} -r ${ip(3)}:8080`), {
          moves: false,
        }),
        step(`${ip(2)}:8080 down (quiesced)`, (c) => c.down(`${ip(2)}:8080`)),
        step(`${ip(2)}:8080 (quiesced) deleted by hand`, async (c) => c.hand(`-d -t ${V} -r ${ip(2)}:8080`), {
          moves: false,
          ours: [`-A -t ${V} -s wrr`, `-a -t ${V} -r ${ip(3)}:8080 -m -w 2`],
        }),
        step(`${ip(2)}:8080 back`, (c) => c.up(`${ip(2)}:8080`)),
        step('stop', (c) => c.stop()),
      ],
      deliberate: [
        {
          ref: W19,
          at: [`${ip(3)}:8080 (up) deleted by hand`],
          table: { perl: [], ours: [`-a -t ${V} -r ${ip(3)}:8080 -m -w 2`] },
          log: { perl: [], ours: [`Added real server: ${ip(3)}:8080 (${V}) (Weight set to 2)`] },
        },
        // Perl never puts it back: it is missing until the end.
        {
          ref: W19,
          at: [`${ip(2)}:8080 down (quiesced)`, `${ip(2)}:8080 (quiesced) deleted by hand`, `${ip(2)}:8080 back`],
          table: { perl: [], ours: [`-a -t ${V} -r ${ip(3)}:8080 -m -w 2`] },
        },
      ],
    });
  });
});
