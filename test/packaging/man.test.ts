/**
 * The man page (man/ldirectord.8): formatted without a warning by groff -ww and man
 * --warnings, and describing every command, option and directive the code knows, so a new
 * directive or option cannot ship undocumented.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIRECTIVE_LIST } from '../../src/parser/directives';
import { SERVICE_NAMES } from '../../src/parser/services';
import { USAGE } from '../../src/cli/text';
import { ROOT, requirePart, which } from '../helpers/env';

const PAGE = join(ROOT, 'man', 'ldirectord.8');

/** The page as man shows it, without font changes (groff's overstrike and roff escapes). */
function rendered(): string {
  const r = spawnSync('groff', ['-ww', '-man', '-Tutf8', '-P', '-cbou', PAGE], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '', 'groff -ww says nothing');
  return r.stdout.replace(/‐\n\s*/g, '').replace(/\s+/g, ' ');
}

describe('packaging: the man page', () => {
  before(function () {
    requirePart(this, which('groff') ? null : 'groff is not installed (apt-get install groff-base)');
  });

  it('formats without warnings (groff -ww, man --warnings)', function () {
    rendered();
    requirePart(this, which('man') ? null : 'man is not installed (apt-get install man-db)');
    const m = spawnSync('man', ['--warnings', '-l', PAGE], {
      encoding: 'utf8',
      env: { ...process.env, MANPAGER: 'cat' },
    });
    assert.equal(m.status, 0, m.stderr);
    assert.equal(m.stderr, '');
  });

  it('describes every directive, service name, command and option', () => {
    const text = rendered();
    for (const [name] of DIRECTIVE_LIST) assert.ok(text.includes(`${name}=`), `directive ${name}= is described`);
    for (const name of ['virtual', 'virtual6']) assert.ok(text.includes(`${name}=`), name);
    for (const name of SERVICE_NAMES) assert.match(text, new RegExp(`\\b${name}\\b`), `service ${name}`);
    const options = new Set(USAGE.match(/--[a-z][a-z-]+/g));
    for (const o of options) assert.ok(text.includes(o), `option ${o} is described`);
    for (const c of ['start', 'stop', 'restart', 'try-restart', 'reload', 'force-reload', 'status', 'show', 'logs'])
      assert.match(text, new RegExp(`\\b${c}\\b`), c);
    for (const c of ['drain', 'undrain']) assert.match(text, new RegExp(`CONFIG ${c} REAL`), c);
    assert.match(readFileSync(PAGE, 'utf8'), /^\.TH LDIRECTORD 8 /m);
  });
});
