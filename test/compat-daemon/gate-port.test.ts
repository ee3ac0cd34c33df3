/**
 * gate reals on another port than their virtual, which the kernel rewrites (W-6).
 *
 * Side by side with Debian's Perl ldirectord: see scenario.ts for how the runs are
 * compared, and cases.ts for the common pieces. Real servers listen on
 * 127.40.<n>.0/24 and virtual addresses are 10.40.<n>.0/24, <n> unique per scenario.
 */
import { GLOBAL, check, step } from './cases';

describe('daemon vs the Perl original, side by side: gate port rewrite', function () {
  this.timeout(600000);

  it('gate reals on another port than the virtual (the kernel rewrites it, W-6), quiescent=yes and =no', async function () {
    const ip = (n: number) => `127.40.4.${n}`;
    const W6 =
      'W-6 (README: gate/ipip reals are found, quiesced and restored under the port the kernel keeps; spec §6.6)';
    /** A real of 10.40.4.1 as the kernel holds it (port rewritten to 80). */
    const q = (n: number, w: number) => `-a -t 10.40.4.1:80 -r ${ip(n)}:80 -g -w ${w}`;
    /** Perl's flap (Added rip:8080, Quiescent rip:80 mapped from rip:8080), net of W-2. */
    const readd = (n: number) =>
      `Readd Quiescent real server: ${ip(n)}:80 mapped from ${ip(n)}:8080 (10.40.4.1:80) (Weight set to 0)`;
    const cfg = `${GLOBAL}quiescent=yes

virtual=10.40.4.1:80
	real=${ip(2)}:8080 gate 2
	real=${ip(3)}:8080 gate 1
	checktype=connect

virtual=10.40.4.2:80
	real=${ip(4)}:8080 gate 1
	checktype=connect
	quiescent=no
`;
    await check(this, {
      name: 'gate-port',
      config: cfg,
      servers: (rs) => {
        for (const n of [2, 3, 4]) rs.add(ip(n), 8080);
      },
      steps: [
        step('start', (c) => c.start(), { flap: true }),
        step(`${ip(2)}:8080 and ${ip(4)}:8080 down`, (c) => c.down(`${ip(2)}:8080`, `${ip(4)}:8080`)),
        step(`${ip(2)}:8080 and ${ip(4)}:8080 back`, (c) => c.up(`${ip(2)}:8080`, `${ip(4)}:8080`)),
        step(
          'reload (same services, a weight changed)',
          (c) => c.reload(cfg.replace(`${ip(3)}:8080 gate 1`, `${ip(3)}:8080 gate 3`)),
          { flap: true },
        ),
        step('stop', (c) => c.stop()),
      ],
      deliberate: [
        // (a) With quiescent=yes, Perl quiesces rip:80 (mapped from rip:8080) in its start-up
        // flap, then "restores" with `-a -r rip:8080 -g`, which the kernel refuses
        // (destination exists) while the log says `Added real server`: the reals of
        // 10.40.4.1 stay at weight 0 for good. This daemon addresses rip:80 throughout.
        {
          ref: W6,
          at: ['start'],
          table: { perl: [q(2, 0), q(3, 0)], ours: [q(2, 2), q(3, 1)] },
          log: { perl: [readd(2), readd(3)], ours: [] },
        },
        {
          ref: W6,
          at: [`${ip(2)}:8080 and ${ip(4)}:8080 down`],
          table: { perl: [q(3, 0)], ours: [q(3, 1)] },
          log: {
            perl: [],
            ours: [`Quiescent real server: ${ip(2)}:80 mapped from ${ip(2)}:8080 (10.40.4.1:80) (Weight set to 0)`],
          },
        },
        {
          ref: W6,
          at: [`${ip(2)}:8080 and ${ip(4)}:8080 back`],
          table: { perl: [q(2, 0), q(3, 0)], ours: [q(2, 2), q(3, 1)] },
          log: {
            perl: [`Added real server: ${ip(2)}:8080 (10.40.4.1:80) (Weight set to 2)`],
            ours: [`Restored real server: ${ip(2)}:8080 (10.40.4.1:80) (Weight set to 2)`],
          },
        },
        // (b) Every reload purges each live rip:80 as "not in the config" and adds it again
        // (for 10.40.4.2, quiescent=no, it comes back; for 10.40.4.1 it is quiesced again).
        {
          ref: W6,
          at: ['reload (same services, a weight changed)'],
          table: { perl: [q(2, 0), q(3, 0)], ours: [q(2, 2), q(3, 3)] },
          log: {
            perl: [
              `Purged real server (start): ${ip(2)}:80 (10.40.4.1:80)`,
              `Purged real server (start): ${ip(3)}:80 (10.40.4.1:80)`,
              `Purged real server (start): ${ip(4)}:80 (10.40.4.2:80)`,
              `Added real server: ${ip(4)}:8080 (10.40.4.2:80) (Weight set to 1)`,
              readd(2),
              `Added real server: ${ip(2)}:8080 (10.40.4.1:80) (Weight set to 2)`,
              readd(3),
              `Added real server: ${ip(3)}:8080 (10.40.4.1:80) (Weight set to 3)`,
            ],
            ours: [`Restored real server: ${ip(3)}:8080 (10.40.4.1:80) (Weight set to 3)`],
          },
        },
      ],
    });
  });
});
