/** parser/carry-over.ts: which virtuals a reload keeps as the objects already running. */
import assert from 'node:assert/strict';
import { carryOver, same } from '../../src/parser/carry-over';
import { config } from '../helpers/config';

const cfg = (extra = '', w = 1) => `
checkinterval=2
${extra}
virtual=10.0.0.1:80
	real=127.0.0.2:8080 masq ${w}
	service=http
virtual=10.0.0.2:80
	real=127.0.0.3:8080 gate
	checktype=connect
`;

describe('carryOver', () => {
  it('keeps the objects of unchanged virtuals, even when their lines moved', async () => {
    const old = await config(cfg());
    const next = await config('# a comment that moves every line down\n\n' + cfg('', 2));
    const out = carryOver(old, next);
    assert.notEqual(out.virtuals[0], old.virtuals[0], 'a weight changed: new object');
    assert.equal(out.virtuals[0], next.virtuals[0]);
    assert.equal(out.virtuals[1], old.virtuals[1], 'unchanged (moved two lines): the running object');
    assert.notEqual(next.virtuals[1]!.line, old.virtuals[1]!.line);
    assert.notEqual(next.virtuals[1], old.virtuals[1], 'the new config itself is not modified');
  });

  it('a global that the virtuals inherit changes them all', async () => {
    const old = await config(cfg());
    const out = carryOver(old, await config(cfg('quiescent=yes')));
    assert.ok(out.virtuals.every((v, i) => v !== old.virtuals[i]));
  });

  it('nothing to carry over returns the new config as is; no old config, too', async () => {
    const next = await config(cfg());
    assert.equal(carryOver(null, next), next);
    assert.equal(carryOver(await config(cfg('quiescent=yes')), next), next);
  });

  it('same(): deep equality that ignores line numbers only', () => {
    assert.ok(same({ line: 1, a: [1, { line: 3, b: 'x' }] }, { line: 9, a: [1, { line: 4, b: 'x' }] }));
    assert.ok(!same({ a: [1, 2] }, { a: [1, 2, 3] }));
    assert.ok(!same({ a: null }, { a: {} }));
    assert.ok(!same({ a: 1 }, { b: 1 }));
    assert.ok(!same([1], { 0: 1 }));
  });
});
