/**
 * MySQL negotiate checks against one throwaway MariaDB (test/helpers/mariadb.ts) on
 * 127.40.6.1, behind byte-for-byte TCP proxies, one per real server, so each real can be
 * taken down on its own while the MySQL conversation stays the real one.
 *
 * Side by side with Debian's Perl ldirectord: see scenario.ts for how the runs are
 * compared, and cases.ts for the common pieces. Real servers listen on
 * 127.40.<n>.0/24 and virtual addresses are 10.40.<n>.0/24, <n> unique per scenario.
 */
import { execFileSync } from 'node:child_process';
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

describe('daemon vs the Perl original, side by side: MySQL negotiate', function () {
  this.timeout(600000);

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
          sql(
            '10.40.6.1:3306',
            'SELECT * FROM health WHERE ok=1',
            [`${ip(2)}:3306 masq 1`, `${ip(3)}:3306 masq 2`],
            `\tfallback=${ip(9)}:3306\n`,
          ) +
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
