/**
 * Side by side with the Perl original (see daemon.test.ts), with the checks that talk to
 * the real server: checktype=external, HTTP negotiate and MySQL negotiate.
 *
 * Real servers: Node TCP/HTTP servers on 127.40.<n>.0/24; for MySQL one throwaway MariaDB
 * (test/helpers/mariadb.ts) on 127.40.6.1 behind byte-for-byte TCP proxies, one per real
 * server, so each real can be taken down on its own while the MySQL conversation stays
 * the real one.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers/env';
import { MariaDb } from '../helpers/mariadb';
import { GLOBAL, check, faults, step } from './cases';

/** Why Perl's mysql check cannot run here (it dies without DBD::mysql, W-8), or null. */
function missingPerlDbdMysql(): string | null {
  try {
    execFileSync('perl', ['-MDBD::mysql', '-e', '1'], { stdio: 'ignore' });
    return null;
  } catch {
    return "Perl's DBD::mysql is not installed (apt-get install libdbd-mysql-perl): the Perl ldirectord's mysql check dies without it (W-8)";
  }
}

describe('daemon vs the Perl original, side by side: checks', function () {
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
        step(`${ip(2)}:8080 answers 200 with a body the receive string does not match (fallback)`, async (c) => void c.servers.get(`${ip(2)}:8080`).answer(200, 'MAINTENANCE')),
        step(`${ip(2)}:8080 answers OK again (fallback out)`, async (c) => void c.servers.get(`${ip(2)}:8080`).answer(200, 'OK')),
        step(`${ip(3)}:8080 stops listening, then comes back answering OK`, async (c) => {
          await c.down(`${ip(3)}:8080`);
          c.servers.get(`${ip(3)}:8080`).answer(200, 'OK');
          await new Promise((r) => setTimeout(r, 3000));
          await c.up(`${ip(3)}:8080`);
        }),
        step(`${ip(4)}:8080 (HEAD) stops listening`, (c) => c.down(`${ip(4)}:8080`)),
        step('reload: the receive string becomes one no server answers (fallback)', (c) => c.reload(web('READY')), { flap: true }),
        step('stop', (c) => c.stop()),
      ],
    });
  });

  it('MySQL negotiate (rows > 0 is up), quiescent=no: down, all down (fallback), back, a query with no rows, stop', async function () {
    const ip = (n: number) => `127.40.6.${n}`;
    const sql = (v: string, query: string, reals: string[], fallback: string) => `
virtual=${v}
${reals.map((r) => `\treal=${r}\n`).join('')}	service=mysql
	checktype=negotiate
	login="ldcheck"
	passwd="s3cret-pw"
	database="ldcheck"
	request="${query}"
${fallback}`;
    await check(
      this,
      {
        name: 'mysql',
        config:
          `${GLOBAL}quiescent=no\n` +
          sql('10.40.6.1:3306', 'SELECT * FROM health WHERE ok=1', [`${ip(2)}:3306 masq 1`, `${ip(3)}:3306 masq 2`], `\tfallback=${ip(9)}:3306\n`) +
          sql('10.40.6.2:3306', 'SELECT * FROM health WHERE ok=0', [`${ip(4)}:3306 masq 1`], ''),
        servers: (rs) => {
          for (const n of [2, 3, 4]) rs.add(ip(n), 3306, 'proxy');
        },
        setup: async (rs) => {
          const db = await MariaDb.start({
            host: ip(1),
            user: 'ldcheck',
            password: 's3cret-pw',
            database: 'ldcheck',
            setup: ['CREATE TABLE health (ok INT NOT NULL)', 'INSERT INTO health VALUES (1)'],
          });
          for (const n of [2, 3, 4]) rs.get(`${ip(n)}:3306`).target = { host: db.host, port: db.port };
          return () => db.remove();
        },
        steps: [step('start', (c) => c.start(), { flap: true }), ...faults(6, 3306), step('stop', (c) => c.stop())],
      },
      [MariaDb.missing(), missingPerlDbdMysql()],
    );
  });
});
