/**
 * checktype=connect, quiescent=yes: see connect-scenario.ts.
 *
 * Side by side with Debian's Perl ldirectord: see scenario.ts for how the runs are
 * compared, and cases.ts for the common pieces.
 */
import { check } from './cases';
import { connectScenario } from './connect-scenario';

describe('daemon vs the Perl original, side by side: connect, quiescent=yes', function () {
  this.timeout(600000);

  it('checktype=connect, quiescent=yes: start on a table left behind, a real down, all down (fallback), back, reload (weight, add, remove), stop; status running/stopped/stale', async function () {
    await check(this, connectScenario('yes', 2));
  });
});
