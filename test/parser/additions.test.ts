/**
 * The pool policy directives (this daemon's additions, issue 22): read at both levels,
 * inherited, checked strictly, and absent from the dump of a config that does not use them
 * (so `--check --json` of a Perl config is what it always was).
 */
import assert from 'node:assert/strict';
import { dumpConfig } from '../../src/parser/dump';
import { ConfigError } from '../../src/parser/model';
import { config } from '../helpers/config';

const BLOCK = 'virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n';

describe('parser: pool policy directives', () => {
  it('global values are inherited, a virtual overrides them', async () => {
    const cfg = await config(
      `successcount=3\nslowstart=30\nfailinginterval=1\n${BLOCK}virtual=10.0.0.2:80\n\treal=10.0.1.1:80 masq\n\tsuccesscount=5\n\tdowninterval=20\n\tpanicthreshold=40\n\tquorum=3\n\thysteresis=1\n\tquorumup="/bin/vip up"\n\tquorumdown=/bin/vip-down\n`,
    );
    const [a, b] = cfg.virtuals;
    assert.deepEqual(
      [a!.successcount, a!.slowstart, a!.failinginterval, a!.downinterval, a!.panicthreshold, a!.quorum],
      [3, 30, 1, null, 0, 0],
    );
    assert.deepEqual(
      [b!.successcount, b!.downinterval, b!.panicthreshold, b!.quorum, b!.hysteresis, b!.quorumup, b!.quorumdown],
      [5, 20, 40, 3, 1, '/bin/vip up', '/bin/vip-down'],
    );
  });

  it('a config without them dumps exactly as before; with them, they are shown', async () => {
    const plain = JSON.stringify(dumpConfig(await config(BLOCK)));
    for (const name of ['successcount', 'slowstart', 'panicthreshold', 'quorum', 'failinginterval'])
      assert.ok(!plain.includes(name), `${name} is not in a Perl config's dump`);
    const used = dumpConfig(await config(`${BLOCK}\tslowstart=30\n`)) as { virtuals: Array<Record<string, unknown>> };
    assert.equal(used.virtuals[0]!.slowstart, 30);
  });

  const BAD: Array<[string, string]> = [
    ['successcount=0', 'successcount must be a whole number from 1 to 1000000'],
    ['slowstart=5s', 'slowstart must be a whole number from 0 to 86400'],
    ['panicthreshold=101', 'panicthreshold must be a whole number from 0 to 100'],
    ['failinginterval=0', 'failinginterval must be a whole number from 1 to 2147483'],
    ['quorum=-1', 'quorum must be a whole number from 0 to 2147483647'],
  ];
  for (const [line, message] of BAD) {
    it(`${line}: an error at its line`, async () => {
      await assert.rejects(config(`${BLOCK}\t${line}\n`), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.line, 3);
        assert.match(e.message, new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
        return true;
      });
    });
  }
});
