/**
 * Differential test of the parser against the Perl original (issue 2).
 *
 * Every fixture (the operators' corpus and the synthetic edge cases in
 * test/fixtures/parser) goes through the Perl daemon's own read_config + ld_setup
 * (test/compat/perl-parse.pl) and through this parser; the two JSON documents, in the
 * shape of `ldirectord --check --json`, must be equal. The only exceptions are the
 * deliberate fixes listed in DELIBERATE below, and each of those is asserted to be
 * exactly the documented difference, not "anything goes".
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { dumpConfig } from '../../src/parser/dump';
import { ConfigError } from '../../src/parser/model';
import { readConfigFile } from '../../src/parser/read-config';
import { systemResolver } from '../../src/parser/resolve';
import { daemonHostname } from '../../src/parser/load';
import { FIXTURES, ROOT, missingPerlLdirectord, requirePart } from '../helpers/env';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function fixtures(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (!name.endsWith('.md')) out.push(p);
    }
  };
  walk(join(FIXTURES, 'corpus'));
  walk(join(FIXTURES, 'parser'));
  return out;
}

function perlParse(file: string): Json {
  const r = spawnSync('perl', [join(ROOT, 'test', 'compat', 'perl-parse.pl'), file], { encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 2) throw new Error(`perl harness failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function ourParse(file: string): Promise<Json> {
  try {
    const cfg = await readConfigFile(file, {
      resolver: systemResolver(),
      hostname: daemonHostname(),
      checkFiles: false,
    });
    return JSON.parse(JSON.stringify(dumpConfig(cfg)));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { error: { line: e.line, message: e.detail } };
  }
}

/**
 * Representation-only normalisation:
 * - Perl messages embed the offending raw line with its newline; compare without it.
 * - `execute` is a Perl hash (no order).
 * - JSON::PP prints a netmask as a number once Perl compared it numerically (IPv6 prefix
 *   lengths); the dump types it as a string.
 * - Perl warns that a per-virtual checkinterval is ignored without fork=yes; this daemon
 *   honours it in every mode, so it does not warn (README "Differences").
 */
function normalize(doc: Json): Json {
  if (doc.error) doc.error.message = String(doc.error.message).replace(/\r?\n/g, '').trimEnd();
  // Deliberate (README "Differences"): secrets are shown as *** in the dump as everywhere.
  for (const v of doc.virtuals ?? []) for (const k of ['login', 'passwd', 'secret']) if (v[k]) v[k] = '***';
  if (doc.global) doc.global.execute.sort();
  for (const v of doc.virtuals ?? []) if (v.netmask !== null) v.netmask = String(v.netmask);
  if (doc.warnings)
    doc.warnings = doc.warnings.filter(
      (w: Json) => !/^checkinterval in virtual service .* ignored when fork=no$/.test(w.message),
    );
  return doc;
}

/**
 * Deliberate fixes (README "Differences from Perl ldirectord"). Each entry turns the Perl
 * document into what this daemon must produce instead, so the rest of the file is still
 * compared field by field.
 */
/** A value past what ipvsadm, the kernel or a timer takes: refused at its line (Perl passed it on). */
const outOfRange = (line: number, message: string) => ({
  fix: 'a value outside what ipvsadm and the kernel take is a config error at its line (Perl failed at every reconcile)',
  expect: (p: Json) => {
    assert.ok(p.virtuals, 'Perl accepts the file');
    for (const k of Object.keys(p)) delete p[k];
    p.error = { line, message };
  },
});

const DELIBERATE: Record<string, { fix: string; expect: (perl: Json) => void }> = {
  'limit-weight.cf': outOfRange(2, 'invalid weight 70000: ipvsadm takes 0 to 65535'),
  'limit-weight-huge.cf': outOfRange(2, 'invalid weight 1234567890123456789012: ipvsadm takes 0 to 65535'),
  'limit-threshold.cf': outOfRange(2, 'invalid threshold u:2147483648: ipvsadm takes 0 to 2147483647'),
  'limit-range.cf': outOfRange(
    2,
    'Invalid Range: 59.0.0.0-59.255.255.255: 16777216 addresses, more than the 65536 one range may hold',
  ),
  'limit-persistent-zero.cf': outOfRange(3, 'invalid persistent timeout: at least 1'),
  'limit-persistent-big.cf': outOfRange(3, 'invalid persistent timeout: at most 2678400'),
  'limit-fwmark-zero.cf': outOfRange(1, 'invalid fwmark 0: ipvsadm takes 1 to 4294967295'),
  'limit-port-zero.cf': outOfRange(
    1,
    'a virtual service on port 0 must be persistent (persistent=N): ipvsadm refuses it otherwise',
  ),
  'limit-checkinterval.cf': outOfRange(1, 'invalid check interval value: at most 2147483'),
  'real-request-leading-slash.cf': {
    fix: 'W-3: a per-real request starting with "/" keeps its receive string and thresholds',
    expect: (p) => {
      const r = p.virtuals[0].reals[0];
      assert.equal(r.request, '/health');
      assert.equal(r.receive, null, 'Perl loses the receive string');
      Object.assign(r, { receive: 'OK', lower: 10, upper: 100 });
    },
  },
  'range-digit-boundary.cf': {
    fix: 'W-12: a range crossing a digit-count boundary adds every address',
    expect: (p) => {
      assert.deepEqual(p.virtuals[0].reals, [], 'Perl adds nothing');
      p.virtuals[0].reals = ['59.154.201.254', '59.154.201.255', '59.154.202.0', '59.154.202.1'].map((address) => ({
        line: 2,
        address,
        port: 80,
        forward: 'gate',
        weight: 1,
        request: null,
        receive: null,
        lower: 0,
        upper: 0,
      }));
    },
  },
  'fallback-global-fwmark.cf': {
    fix: 'W-4: a global fallback applies to a fwmark virtual (Perl ran `ipvsadm -a -f 5 -r :0`)',
    expect: (p) => {
      const fb = p.virtuals[0].fallback;
      assert.equal(fb.address, null, 'Perl has no fallback server');
      p.virtuals[0].fallback = { address: '127.0.0.1', port: 80, forward: 'gate' };
    },
  },
  'sql-missing-login.cf': {
    fix: 'an SQL check without login is a config error at parse time (Perl kept the reals down at every check)',
    expect: (p) => {
      assert.ok(p.virtuals, 'Perl accepts the file');
      for (const k of Object.keys(p)) delete p[k];
      p.error = {
        line: 3,
        message:
          'a mysql check needs login="..." (the original logged "Must specify a login and request string" and kept every real down)',
      };
    },
  },
  'sql-missing-request.cf': {
    fix: 'an SQL check without request is a config error at parse time',
    expect: (p) => {
      assert.ok(p.virtuals, 'Perl accepts the file');
      for (const k of Object.keys(p)) delete p[k];
      p.error = {
        line: 3,
        message:
          'a pgsql check needs request="<query>" (the original logged "Must specify a login and request string" and kept every real down)',
      };
    },
  },
  'oracle.cf': {
    fix: 'service=oracle negotiate checks are refused at parse time (no tested check); connect checks stay allowed',
    expect: (p) => {
      assert.equal(p.virtuals[0].service, 'oracle', 'port 1521 means oracle for Perl too');
      for (const k of Object.keys(p)) delete p[k];
      p.error = {
        line: 1,
        message:
          'service=oracle negotiate checks are not supported by this ldirectord: use checktype=connect, or checktype=external with a checkcommand that runs your query',
      };
    },
  },
  'unknown-in-block.cf': {
    fix: 'the value of a mistyped secret line (passwd, password, secret, login) is masked in the error',
    expect: (p) => {
      assert.equal(p.error.message, 'Unknown command "\tpassword="x""');
      p.error.message = 'Unknown command "\tpassword=***"';
    },
  },
  'passwd-unquoted.cf': {
    fix: 'an unquoted passwd is an error, and its value is masked in the message',
    expect: (p) => {
      assert.equal(p.error.message, 'Unknown command "\tpasswd=hunter2secret"');
      p.error.message = 'Unknown command "\tpasswd=***"';
    },
  },
  'receive-invalid.cf': {
    fix: 'a receive string that is not a valid regex is a config error at its line (Perl died at the first check)',
    expect: (p) => {
      assert.ok(p.virtuals, 'Perl accepts the file');
      for (const k of Object.keys(p)) delete p[k];
      p.error = { line: 4, message: 'invalid receive string "OK((": Unterminated group' };
    },
  },
  'receive-possessive.cf': {
    fix: 'a receive regex using a Perl-only construct is reported at its line',
    expect: (p) => {
      assert.ok(p.virtuals, 'Perl accepts the file');
      for (const k of Object.keys(p)) delete p[k];
      p.error = { line: 4, message: 'invalid receive string "a++": possessive quantifiers are not supported' };
    },
  },
};

describe('parser: differential against the Perl ldirectord', function () {
  this.timeout(60000);
  before(function () {
    requirePart(this, missingPerlLdirectord());
  });

  for (const file of fixtures()) {
    const name = relative(FIXTURES, file);
    const base = name.split('/').pop()!;
    it(name, async () => {
      const perl = normalize(perlParse(file));
      const ours = normalize(await ourParse(file));
      const d = DELIBERATE[base];
      if (d) d.expect(perl);
      assert.deepEqual(ours, perl, d ? `after the deliberate fix (${d.fix})` : undefined);
    });
  }
});
