/**
 * checktype=external, with a check script that opens a TCP connection to the real.
 *
 * Side by side with Debian's Perl ldirectord: see scenario.ts for how the runs are
 * compared, and cases.ts for the common pieces. Real servers listen on
 * 127.40.<n>.0/24 and virtual addresses are 10.40.<n>.0/24, <n> unique per scenario.
 */
import { join } from 'node:path';
import { ROOT } from '../helpers/env';
import { GLOBAL, check, faults, step } from './cases';

describe('daemon vs the Perl original, side by side: external check', function () {
  this.timeout(600000);

  it('checktype=external (a TCP probe script), failurecount=2, quiescent=no: down, all down (fallback), back, stop', async function () {
    const ip = (n: number) => `127.40.7.${n}`;
    const script = join(ROOT, 'test', 'compat-daemon', 'fixtures', 'check-tcp.sh');
    await check(this, {
      name: 'external',
      config: `${GLOBAL}quiescent=no
failurecount=2

virtual=10.40.7.1:80
	real=${ip(2)}:8080 masq 1
	real=${ip(3)}:8080 masq 2
	checktype=external
	checkcommand=${script}
	fallback=${ip(9)}:80
`,
      servers: (rs) => {
        for (const n of [2, 3]) rs.add(ip(n), 8080);
      },
      // Two failed checks before a real goes: a little longer to settle.
      quietMs: 7000,
      steps: [step('start', (c) => c.start(), { flap: true }), ...faults(7, 8080), step('stop', (c) => c.stop())],
    });
  });
});
