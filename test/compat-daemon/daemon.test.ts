/**
 * Differential test of the daemon against Debian's Perl ldirectord (issue 6, item 3):
 * both run side by side, each against its own recording ipvsadm, on the same config,
 * the same real servers and the same fault script; at every checkpoint the settled
 * tables and the grepped log lines of the phase must agree, apart from the documented
 * deliberate fixes each scenario declares (asserted exactly). See scenario.ts.
 *
 * Real servers listen on 127.40.<scenario>.<n>; virtual addresses are 10.40.<scenario>.<n>.
 * Run with `npm run test:compat` (LDIRECTORD_COMPAT_KEEP=1 keeps the temp files).
 */
import { GLOBAL, check, faults, step } from './cases';

describe('daemon vs the Perl original, side by side', function () {
  this.timeout(600000);

  for (const quiescent of ['no', 'yes'] as const) {
    const net = quiescent === 'no' ? 1 : 2;
    const v1 = `10.40.${net}.1:80`;
    const v2 = `10.40.${net}.2:80`;
    const v3 = `10.40.${net}.3:80`;
    const ip = (n: number) => `127.40.${net}.${n}`;
    const cfg1 = `${GLOBAL}quiescent=${quiescent}

virtual=${v1}
	real=${ip(2)}:8080 masq 1
	real=${ip(3)}:8080 masq 5
	checktype=connect
	fallback=${ip(9)}:80

virtual=${v2}
	real=${ip(4)}:8080 masq 2
	checktype=connect
`;
    // Reload: a weight changes, ${v2} goes, ${v3} comes with one real up and one never up.
    const cfg2 = `${GLOBAL}quiescent=${quiescent}

virtual=${v1}
	real=${ip(2)}:8080 masq 3
	real=${ip(3)}:8080 masq 5
	checktype=connect
	fallback=${ip(9)}:80

virtual=${v3}
	real=${ip(5)}:8080 masq 1
	real=${ip(6)}:8080 masq 4
	checktype=connect
`;
    const S1 = `-A -t ${v1} -s wrr`;
    const S2 = `-A -t ${v2} -s wrr`;
    const S3 = `-A -t ${v3} -s wrr`;
    const d = (v: string, r: string, fwd: string, w: number) => `-a -t ${v} -r ${r} ${fwd} -w ${w}`;
    const unmanaged = [`-A -t 10.40.${net}.99:80 -s rr`, `-a -t 10.40.${net}.99:80 -r ${ip(99)}:80 -m -w 1`];
    // Left behind by an earlier run (B.3): the scheduler, a weight and a stale real to fix.
    const leftover = [`-A -t ${v1} -s rr`, `-a -t ${v1} -r ${ip(2)}:8080 -m -w 7`, `-a -t ${v1} -r ${ip(77)}:8080 -m -w 1`];
    /** A real that is down: at weight 0 with quiescent=yes, absent with quiescent=no. */
    const down = (v: string, r: string) => (quiescent === 'yes' ? [d(v, r, '-m', 0)] : []);
    const fb = d(v1, `${ip(9)}:80`, '-g', 1);

    it(`checktype=connect, quiescent=${quiescent}: start on a table left behind, a real down, all down (fallback), back, reload (weight, add, remove), stop; status running/stopped/stale`, async function () {
      await check(this, {
        name: `connect-q${quiescent}`,
        config: cfg1,
        seed: [...unmanaged, ...leftover],
        servers: (rs) => {
          for (const n of [2, 3, 4, 5]) rs.add(ip(n), 8080);
        },
        steps: [
          step(
            'start',
            async (c) => {
              await c.start();
              await c.status(0, 'running');
            },
            { flap: true, ours: [...unmanaged, S1, d(v1, `${ip(2)}:8080`, '-m', 1), d(v1, `${ip(3)}:8080`, '-m', 5), S2, d(v2, `${ip(4)}:8080`, '-m', 2)] },
          ),
          ...faults(net, 8080, {
            ours: {
              'one down': [...unmanaged, S1, d(v1, `${ip(2)}:8080`, '-m', 1), ...down(v1, `${ip(3)}:8080`), S2, d(v2, `${ip(4)}:8080`, '-m', 2)],
              'all down': [...unmanaged, S1, ...down(v1, `${ip(2)}:8080`), ...down(v1, `${ip(3)}:8080`), fb, S2, d(v2, `${ip(4)}:8080`, '-m', 2)],
              'one back': [...unmanaged, S1, d(v1, `${ip(2)}:8080`, '-m', 1), ...down(v1, `${ip(3)}:8080`), S2, d(v2, `${ip(4)}:8080`, '-m', 2)],
              'all back': [...unmanaged, S1, d(v1, `${ip(2)}:8080`, '-m', 1), d(v1, `${ip(3)}:8080`, '-m', 5), S2, d(v2, `${ip(4)}:8080`, '-m', 2)],
            },
          }),
          step('reload: a weight changed, a virtual added, one removed', (c) => c.reload(cfg2), {
            flap: true,
            ours: [...unmanaged, S1, d(v1, `${ip(2)}:8080`, '-m', 3), d(v1, `${ip(3)}:8080`, '-m', 5), S3, d(v3, `${ip(5)}:8080`, '-m', 1), ...down(v3, `${ip(6)}:8080`)],
          }),
          step(
            'stop',
            async (c) => {
              await c.stop();
              await c.status(3, 'stopped');
              c.stale();
              await c.status(1, 'stale pid file');
            },
            { ours: unmanaged },
          ),
        ],
      });
    });
  }
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

  it('gate reals on another port than the virtual (the kernel rewrites it, W-6), quiescent=yes and =no', async function () {
    const ip = (n: number) => `127.40.4.${n}`;
    const W6 = 'W-6 (spec §6.6; src/reconcile/plan.ts: the kernel keeps a gate/ipip real at rip:vport)';
    /** A real of 10.40.4.1 as the kernel holds it (port rewritten to 80). */
    const q = (n: number, w: number) => `-a -t 10.40.4.1:80 -r ${ip(n)}:80 -g -w ${w}`;
    /** Perl's flap (Added rip:8080, Quiescent rip:80 mapped from rip:8080), net of W-2. */
    const readd = (n: number) => `Readd Quiescent real server: ${ip(n)}:80 mapped from ${ip(n)}:8080 (10.40.4.1:80) (Weight set to 0)`;
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
        step('reload (same services, a weight changed)', (c) => c.reload(cfg.replace(`${ip(3)}:8080 gate 1`, `${ip(3)}:8080 gate 3`)), { flap: true }),
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
          log: { perl: [], ours: [`Quiescent real server: ${ip(2)}:80 mapped from ${ip(2)}:8080 (10.40.4.1:80) (Weight set to 0)`] },
        },
        {
          ref: W6,
          at: [`${ip(2)}:8080 and ${ip(4)}:8080 back`],
          table: { perl: [q(2, 0), q(3, 0)], ours: [q(2, 2), q(3, 1)] },
          log: { perl: [`Added real server: ${ip(2)}:8080 (10.40.4.1:80) (Weight set to 2)`], ours: [`Restored real server: ${ip(2)}:8080 (10.40.4.1:80) (Weight set to 2)`] },
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
