/**
 * ftp negotiate check against a real vsftpd (throwaway instances, see
 * helpers/mail-vsftpd.ts) on 127.20.3.1 and ::1, plus a hung server for the deadline.
 */
import { strict as assert } from 'node:assert';
import { runProbe } from '../../src/checks/run';
import type { FtpSpec } from '../../src/checks/ftp';
import { compileReceive } from '../../src/checks/receive';
import { requirePart } from '../helpers/env';
import { ADDR, V6, silentServer, within } from '../helpers/mail-net';
import { FTP_USER, HEALTH_TEXT, missingVsftpd, startVsftpd, type Vsftpd } from '../helpers/mail-vsftpd';

describe('checks: ftp against a real vsftpd', function () {
  this.timeout(30_000);
  let v4: Vsftpd | undefined;
  let v6: Vsftpd | undefined;
  const spec = (o: Omit<Partial<FtpSpec>, 'receive'> & { receive?: string | null } = {}): FtpSpec => {
    const { receive, ...rest } = o;
    return {
      kind: 'ftp',
      host: v4!.host,
      port: v4!.port,
      user: FTP_USER.user,
      password: FTP_USER.password,
      path: '/health.txt',
      receive: compileReceive(receive === undefined ? 'health: OK' : receive),
      timeoutMs: 5000,
      ...rest,
    };
  };

  before(async function () {
    requirePart(this, missingVsftpd());
    v4 = await startVsftpd(ADDR.ftp);
    v6 = await startVsftpd(V6);
  });
  after(async () => {
    await v4?.stop();
    await v6?.stop();
  });

  describe('server running', () => {
    it('is up when the fetched file matches receive (password user)', async () => {
      const r = await runProbe(spec());
      assert.deepEqual([r.up, r.reason], [true, `FTP RETR /health.txt: ${HEALTH_TEXT.length} bytes, receive matched`]);
    });

    it('logs in as anonymous when login is empty, as Net::FTP does', async () => {
      const r = await runProbe(spec({ user: '', password: '' }));
      assert.deepEqual([r.up, r.reason], [true, `FTP RETR /health.txt: ${HEALTH_TEXT.length} bytes, receive matched`]);
    });

    it('with an empty receive, is up when the file was fetched', async () => {
      const r = await runProbe(spec({ receive: '' }));
      assert.deepEqual([r.up, r.reason], [true, `FTP RETR /health.txt: ${HEALTH_TEXT.length} bytes fetched`]);
    });

    it('matches receive as a Perl regex ($ before the final newline)', async () => {
      const r = await runProbe(spec({ receive: '^ldirectord health: OK$' }));
      assert.equal(r.up, true, r.reason);
    });

    it('is down when the content does not match, and shows what came back', async () => {
      const r = await runProbe(spec({ receive: 'health: FAIL' }));
      assert.deepEqual(
        [r.up, r.reason],
        [
          false,
          `FTP RETR /health.txt: ${HEALTH_TEXT.length} bytes, receive did not match; got "ldirectord health: OK\\n"`,
        ],
      );
    });

    it('is down when the file is missing', async () => {
      const r = await runProbe(spec({ path: '/missing.txt', receive: '' }));
      assert.deepEqual([r.up, r.reason], [false, 'FTP RETR /missing.txt: "550 Failed to open file."']);
    });

    it('is down on a wrong password, and the reason does not show the password', async () => {
      const password = 'wrong-pass-123';
      const r = await runProbe(spec({ password }));
      assert.deepEqual([r.up, r.reason], [false, `FTP login as ${FTP_USER.user}: "530 Login incorrect."`]);
      assert.ok(!r.reason.includes(password));
    });

    it('downloads at most 1 MiB and matches receive against that much', async () => {
      const head = await runProbe(spec({ path: '/big.bin', receive: '^a{1000}' }));
      assert.deepEqual([head.up, head.reason], [true, 'FTP RETR /big.bin: first 1048576 bytes, receive matched']);
      const tail = await runProbe(spec({ path: '/big.bin', receive: 'END-OF-BIG-FILE' }));
      assert.equal(tail.up, false);
      assert.match(
        tail.reason,
        /^FTP RETR \/big\.bin: first 1048576 bytes, receive did not match; got "a{60}\.\.\. \(1048576 bytes\)"$/,
      );
    });

    it('refuses to send a request containing a line break (command injection)', async () => {
      const r = await runProbe(spec({ path: '/health.txt\r\nDELE /health.txt' }));
      assert.deepEqual(
        [r.up, r.reason],
        [false, 'FTP: login, passwd or request contains a line break or NUL, refusing to send it'],
      );
    });

    it('works over IPv6 (::1, EPSV)', async () => {
      const r = await runProbe(spec({ host: v6!.host, port: v6!.port }));
      assert.deepEqual([r.up, r.reason], [true, `FTP RETR /health.txt: ${HEALTH_TEXT.length} bytes, receive matched`]);
    });

    it('is down at the deadline when the server accepts and never greets, and closes its socket', async () => {
      const hung = await silentServer(ADDR.ftp);
      try {
        const r = await runProbe(spec({ port: hung.port, timeoutMs: 1000 }));
        assert.deepEqual([r.up, r.reason], [false, 'FTP greeting: timed out after 1 s']);
        await within(hung.firstClosed, 2000, 'the server seeing the check close its connection');
      } finally {
        await hung.close();
      }
    });
  });

  describe('server stopped', () => {
    it('is down once the server is stopped', async () => {
      await v4!.stop();
      const r = await runProbe(spec());
      assert.deepEqual([r.up, r.reason], [false, 'connect ECONNREFUSED']);
    });
  });
});
