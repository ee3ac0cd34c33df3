/**
 * HTTP negotiate checks against Node HTTP servers that can fail in several ways.
 *
 * Side by side with Debian's Perl ldirectord: see scenario.ts for how the runs are
 * compared, and cases.ts for the common pieces. Real servers listen on
 * 127.40.<n>.0/24 and virtual addresses are 10.40.<n>.0/24, <n> unique per scenario.
 */
import { GLOBAL, check, step } from './cases';

describe('daemon vs the Perl original, side by side: HTTP negotiate', function () {
  this.timeout(600000);

  it('HTTP negotiate (GET with receive, HEAD), quiescent=yes: 500, wrong body, refused, back, reload with a new receive, stop', async function () {
    const ip = (n: number) => `127.40.5.${n}`;
    const web = (receive: string) => `${GLOBAL}quiescent=yes

virtual=10.40.5.1:80
	real=${ip(2)}:8080 masq 1
	real=${ip(3)}:8080 masq 2
	service=http
	checktype=negotiate
	request="health"
	receive="${receive}"
	fallback=${ip(9)}:80

virtual=10.40.5.2:80
	real=${ip(4)}:8080 masq 1
	service=http
	checktype=negotiate
	httpmethod=HEAD
	request="health"

virtual=10.40.5.3:80
	real=${ip(5)}:8080 masq 1
	service=http
	checktype=negotiate
	httpmethod=HEAD
	request="health"
	receive="OK"
`;
    await check(this, {
      name: 'http',
      config: web('OK'),
      servers: (rs) => {
        for (const n of [2, 3, 4, 5]) rs.add(ip(n), 8080, 'http');
      },
      steps: [
        step('start', (c) => c.start(), { flap: true }),
        step(`${ip(3)}:8080 answers 500`, async (c) => void c.servers.get(`${ip(3)}:8080`).answer(500, 'OK')),
        step(
          `${ip(2)}:8080 answers 200 with a body the receive string does not match (fallback)`,
          async (c) => void c.servers.get(`${ip(2)}:8080`).answer(200, 'MAINTENANCE'),
        ),
        step(
          `${ip(2)}:8080 answers OK again (fallback out)`,
          async (c) => void c.servers.get(`${ip(2)}:8080`).answer(200, 'OK'),
        ),
        step(`${ip(3)}:8080 stops listening, then comes back answering OK`, async (c) => {
          await c.down(`${ip(3)}:8080`);
          c.servers.get(`${ip(3)}:8080`).answer(200, 'OK');
          await new Promise((r) => setTimeout(r, 3000));
          await c.up(`${ip(3)}:8080`);
        }),
        step(`${ip(4)}:8080 (HEAD) stops listening`, (c) => c.down(`${ip(4)}:8080`)),
        step('reload: the receive string becomes one no server answers (fallback)', (c) => c.reload(web('READY')), {
          flap: true,
        }),
        step('stop', (c) => c.stop()),
      ],
    });
  });
});
