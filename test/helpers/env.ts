/**
 * Test environment helpers: where the repo is, and how a test that needs a system part
 * (MariaDB, QEMU, the Perl original) says it cannot run.
 *
 * On a developer machine a missing part skips the test with the reason printed. In CI,
 * `.ci/run` sets LDIRECTORD_TEST_REQUIRE_ALL=1 and the same situation is a failure, so
 * nothing is ever silently skipped there.
 */
import { existsSync, statSync } from 'node:fs';
import { join, delimiter } from 'node:path';

/** The repository root (tests run from .test-build/test/...). */
export const ROOT = join(__dirname, '..', '..', '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures');
export const CLI = join(ROOT, 'dist', 'cli.js');
/** The recording stand-in for ipvsadm (src/testing/fake-ipvsadm.ts). */
export const FAKE = join(ROOT, 'dist', 'testing', 'fake-ipvsadm.js');

export const REQUIRE_ALL = process.env.LDIRECTORD_TEST_REQUIRE_ALL === '1';

/**
 * Skip (or, under LDIRECTORD_TEST_REQUIRE_ALL=1, fail) when `missing` is a reason string.
 * Call from a before()/it() with `this`.
 */
export function requirePart(ctx: Mocha.Context, missing: string | null): void {
  if (missing === null) return;
  if (REQUIRE_ALL) throw new Error(`required test part missing: ${missing}`);
  console.log(`      (skipped: ${missing})`);
  ctx.skip();
}

/** Path of an executable found on PATH (plus the sbin folders), or null. */
export function which(cmd: string): string | null {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/local/sbin', '/usr/sbin', '/sbin']);
  for (const d of cmd.includes('/') ? [''] : dirs) {
    const p = d ? join(d, cmd) : cmd;
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

export function missingPerlLdirectord(): string | null {
  if (!existsSync('/usr/sbin/ldirectord'))
    return "Debian's Perl ldirectord is not installed (apt-get install ldirectord)";
  return null;
}

/** Debian's chromium, driven by playwright-core for the status page (nothing downloads a browser). */
export const CHROMIUM = process.env.LDIRECTORD_TEST_CHROMIUM || '/usr/bin/chromium';

export function missingChromium(): string | null {
  if (!existsSync(CHROMIUM)) return `no browser at ${CHROMIUM} (apt-get install chromium)`;
  return null;
}

/** Where tests leave files for people to look at (screenshots); CI keeps this folder. */
export const ARTIFACTS = process.env.LDIRECTORD_TEST_ARTIFACTS || join(ROOT, 'test-artifacts');
