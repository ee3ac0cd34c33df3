/**
 * maintenancedir (spec §5.6): every name form Perl accepts, ready before the first check.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Maintenance } from '../../src/schedule/maintenance';

describe('maintenance files', () => {
  let dir: string;
  let clock = 0;
  const names: Record<string, string | null> = {
    '10.0.0.5': 'web5.example.com',
    '2001:db8::7': 'db7.example.org',
    '10.0.0.9': null,
  };
  const lookups: string[] = [];
  const reverse = async (a: string) => {
    lookups.push(a);
    return names[a] ?? null;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ldmaint-'));
    lookups.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const cases: Array<[string, string, number, boolean]> = [
    ['<ip>:<port>', '10.0.0.5:80', 80, true],
    ['<ip>:<port> of another port', '10.0.0.5:81', 80, false],
    ['<ip>', '10.0.0.5', 80, true],
    ['<fqdn>:<port>', 'web5.example.com:80', 80, true],
    ['<fqdn>', 'web5.example.com', 443, true],
    ['<short>:<port>', 'web5:80', 80, true],
    ['<short>', 'web5', 80, true],
    ['[v6]:<port>', '[2001:db8::7]:3306', 3306, true],
    ['[v6]', '[2001:db8::7]', 3306, true],
    ['v6 <fqdn>', 'db7.example.org', 3306, true],
  ];
  for (const [form, file, port, want] of cases) {
    it(`${form} (${file}) ${want ? 'is' : 'is not'} maintenance, known from the first question`, async () => {
      writeFileSync(join(dir, file), '');
      const address = file.includes('db7') || file.startsWith('[') ? '2001:db8::7' : '10.0.0.5';
      const m = new Maintenance(dir, reverse, () => clock);
      await m.prepare([address, '10.0.0.9']);
      assert.equal(m.has(address, port), want);
      assert.equal(m.has('10.0.0.9', port), false, 'an address without a reverse name is never matched by name');
    });
  }

  it('does no reverse lookup while every file is named by address', async () => {
    writeFileSync(join(dir, '10.0.0.5:80'), '');
    const m = new Maintenance(dir, reverse, () => clock);
    await m.prepare(['10.0.0.5', '10.0.0.9']);
    assert.equal(m.has('10.0.0.9', 80), false);
    assert.deepEqual(lookups, []);
  });

  it('does not wait longer than its bound for a reverse lookup that hangs', async () => {
    writeFileSync(join(dir, 'somehost'), '');
    const m = new Maintenance(
      dir,
      () => new Promise(() => undefined),
      () => clock,
    );
    await m.prepare(['10.0.0.5'], 50);
    assert.equal(m.has('10.0.0.5', 80), false);
  });

  it('sees a file appear and go at the next listing (at most once a second)', async () => {
    const m = new Maintenance(dir, reverse, () => clock);
    await m.prepare(['10.0.0.5']);
    assert.equal(m.has('10.0.0.5', 80), false);
    writeFileSync(join(dir, '10.0.0.5'), '');
    clock += 1001;
    await m.refresh();
    assert.equal(m.has('10.0.0.5', 80), true);
    unlinkSync(join(dir, '10.0.0.5'));
    clock += 1001;
    await m.refresh();
    assert.equal(m.has('10.0.0.5', 80), false);
  });
});
