/**
 * fwmark virtual services, with their own fallback and with the global one (W-4).
 *
 * Side by side with Debian's Perl ldirectord: see scenario.ts for how the runs are
 * compared, and cases.ts for the common pieces. Real servers listen on
 * 127.40.<n>.0/24 and virtual addresses are 10.40.<n>.0/24, <n> unique per scenario.
 */
import { GLOBAL, check, step } from './cases';

describe('daemon vs the Perl original, side by side: fwmark', function () {
  this.timeout(600000);

  it('fwmark virtuals: per-virtual fallback, and a global fallback on a fwmark (W-4)', async function () {
    const ip = (n: number) => `127.40.3.${n}`;
    const W4 = 'W-4 (README: a global fallback= applies to fwmark virtual services)';
    const W4_PERL_LOG = 'Added fallback server: :0 (41) (Weight set to 1)';
    const W4_FB = `-a -f 41 -r ${ip(8)}:80 -g -w 1`;
    await check(this, {
      name: 'fwmark',
      config: `${GLOBAL}quiescent=no
fallback=${ip(8)}:80

virtual=40
	protocol=fwm
	real=${ip(2)}:80 gate 2
	real=${ip(3)}:80 gate 1
	checktype=connect
	fallback=${ip(9)}:80 gate

virtual=41
	protocol=fwm
	real=${ip(4)}:80 gate 1
	checktype=connect
`,
      servers: (rs) => {
        for (const n of [2, 3, 4]) rs.add(ip(n), 80);
      },
      steps: [
        step('start', (c) => c.start(), { flap: true }),
        step(`${ip(3)}:80 down`, (c) => c.down(`${ip(3)}:80`)),
        step('every real of fwmark 40 down (its own fallback)', (c) => c.down(`${ip(2)}:80`)),
        step('every real of fwmark 41 down (the global fallback)', (c) => c.down(`${ip(4)}:80`)),
        step(`${ip(2)}:80 back`, (c) => c.up(`${ip(2)}:80`)),
        step(`${ip(4)}:80 back`, (c) => c.up(`${ip(4)}:80`)),
        step('stop', (c) => c.stop()),
      ],
      deliberate: [
        {
          // Perl: no fallback server at all (`ipvsadm -a -f 41 -x 0 -y 0 -r :0   -w 1`, refused),
          // yet it logs `Added fallback server: :0 (41)` each time, and never a delete.
          ref: W4,
          at: ['start'],
          log: { perl: [W4_PERL_LOG, W4_PERL_LOG], ours: [] },
        },
        {
          ref: W4,
          at: ['every real of fwmark 41 down (the global fallback)'],
          table: { perl: [], ours: [W4_FB] },
          log: { perl: [W4_PERL_LOG], ours: [`Added fallback server: ${ip(8)}:80 (41) (Weight set to 1)`] },
        },
        { ref: W4, at: [`${ip(2)}:80 back`], table: { perl: [], ours: [W4_FB] } },
        { ref: W4, at: [`${ip(4)}:80 back`], log: { perl: [], ours: [`Deleted fallback server: ${ip(8)}:80 (41)`] } },
      ],
    });
  });
});
