/**
 * The connect scenario (issue 6, item 3), for connect*.test.ts: start on a table an
 * earlier run left behind, a real down, every real down (fallback), back, a reload that
 * changes a weight, adds a virtual and removes one, stop; and `status` while running,
 * stopped, and with a stale pid file. Real servers on 127.40.<net>.0/24.
 */
import { GLOBAL, faults, step } from './cases';
import type { Scenario } from './scenario';

export function connectScenario(quiescent: 'no' | 'yes', net: number, readd = false): Scenario {
  const v1 = `10.40.${net}.1:80`;
  const v2 = `10.40.${net}.2:80`;
  const v3 = `10.40.${net}.3:80`;
  const ip = (n: number) => `127.40.${net}.${n}`;
  const cfg1 = `${GLOBAL}quiescent=${quiescent}
${readd ? 'readdquiescent=yes\n' : ''}
virtual=${v1}
	real=${ip(2)}:8080 masq 1
	real=${ip(3)}:8080 masq 5 l:10 u:100
	checktype=connect
	fallback=${ip(9)}:80

virtual=${v2}
	real=${ip(4)}:8080 masq 2
	checktype=connect
`;
  // Reload: a weight changes, the second virtual goes, a third comes with one real up and
  // one never up.
  const cfg2 = `${GLOBAL}quiescent=${quiescent}
${readd ? 'readdquiescent=yes\n' : ''}
virtual=${v1}
	real=${ip(2)}:8080 masq 3
	real=${ip(3)}:8080 masq 5 l:10 u:100
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
  const leftover = [
    `-A -t ${v1} -s rr`,
    `-a -t ${v1} -r ${ip(2)}:8080 -m -w 7`,
    `-a -t ${v1} -r ${ip(77)}:8080 -m -w 1`,
  ];
  /** A real that is down: at weight 0 with quiescent=yes, absent with quiescent=no. */
  const down = (v: string, r: string) => (quiescent === 'yes' ? [d(v, r, '-m', 0)] : []);
  const fb = d(v1, `${ip(9)}:80`, '-g', 1);
  /** 127.40.<net>.3 has connection thresholds (l:10 u:100): the kernel keeps them, quiesced or not. */
  const th = (line: string) => `${line} -x 100 -y 10`;
  const r3 = (w: number) => th(d(v1, `${ip(3)}:8080`, '-m', w));

  return {
    name: `connect-q${quiescent}${readd ? '-readd' : ''}`,
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
        {
          flap: true,
          ours: [...unmanaged, S1, d(v1, `${ip(2)}:8080`, '-m', 1), r3(5), S2, d(v2, `${ip(4)}:8080`, '-m', 2)],
        },
      ),
      ...faults(net, 8080, {
        ours: {
          'one down': [
            ...unmanaged,
            S1,
            d(v1, `${ip(2)}:8080`, '-m', 1),
            ...down(v1, `${ip(3)}:8080`).map(th),
            S2,
            d(v2, `${ip(4)}:8080`, '-m', 2),
          ],
          'all down': [
            ...unmanaged,
            S1,
            ...down(v1, `${ip(2)}:8080`),
            ...down(v1, `${ip(3)}:8080`).map(th),
            fb,
            S2,
            d(v2, `${ip(4)}:8080`, '-m', 2),
          ],
          'one back': [
            ...unmanaged,
            S1,
            d(v1, `${ip(2)}:8080`, '-m', 1),
            ...down(v1, `${ip(3)}:8080`).map(th),
            S2,
            d(v2, `${ip(4)}:8080`, '-m', 2),
          ],
          'all back': [...unmanaged, S1, d(v1, `${ip(2)}:8080`, '-m', 1), r3(5), S2, d(v2, `${ip(4)}:8080`, '-m', 2)],
        },
      }),
      step('reload: a weight changed, a virtual added, one removed', (c) => c.reload(cfg2), {
        flap: true,
        ours: [
          ...unmanaged,
          S1,
          d(v1, `${ip(2)}:8080`, '-m', 3),
          r3(5),
          S3,
          d(v3, `${ip(5)}:8080`, '-m', 1),
          ...down(v3, `${ip(6)}:8080`),
        ],
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
  };
}
