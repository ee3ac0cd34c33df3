/**
 * The reconciler (src/reconcile/reconciler.ts) against the fake kernel: a batch that
 * ipvsadm stops at a refused line is finished one command at a time, and what still
 * fails is logged once, not at every pass.
 */
import assert from 'node:assert/strict';
import { plan } from '../../src/reconcile/plan';
import { Reconciler } from '../../src/reconcile/reconciler';
import { config } from '../helpers/config';
import { FakeIpvs } from '../helpers/fake-ipvs';

describe('reconcile: reconciler', () => {
  it('a refused line in an ipvsadm -R batch holds nothing else up, and is logged once per change', async () => {
    const cfg = await config(`
virtual=10.0.0.1:80
	real=10.0.1.1:80 masq 1
	real=10.0.1.2:80 masq 2
	real=10.0.1.3:80 masq 3
`);
    const ipvs = new FakeIpvs();
    ipvs.refuseArgs = /10\.0\.1\.2:80/;
    const errors: string[] = [];
    const r = new Reconciler(ipvs, { info: () => undefined, error: (m) => errors.push(m) });
    const desired = plan(cfg.virtuals, () => ({ state: 'up', placed: true }), { readdquiescent: false });
    const first = await r.reconcile(desired, [], { fresh: true });
    assert.deepEqual(
      ipvs.save(),
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1\n-a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 3\n',
      'the real after the refused line is in',
    );
    assert.equal(first.failed.length, 1);
    assert.deepEqual(errors, [
      'ipvsadm failed: fake-ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 2 -x 0 -y 0: illegal weight specified (will retry)',
    ]);
    // The next passes try it again, and say nothing new while nothing changed.
    await r.reconcile(desired, [], { fresh: true });
    await r.reconcile(desired, [], { fresh: true });
    assert.equal(errors.length, 1, 'logged once, not at every pass');
    // Once it works, and fails again later: logged again.
    ipvs.refuseArgs = null;
    assert.equal((await r.reconcile(desired, [], { fresh: true })).failed.length, 0);
    ipvs.hand('-d -t 10.0.0.1:80 -r 10.0.1.2:80');
    ipvs.refuseArgs = /10\.0\.1\.2:80/;
    await r.reconcile(desired, [], { fresh: true });
    assert.equal(errors.length, 2);
  });
});
