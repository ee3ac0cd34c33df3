/**
 * pop, pops, imap and imaps negotiate checks against a real dovecot (throwaway instance,
 * see helpers/mail-dovecot.ts), plus a hung server for the deadline.
 */
import { strict as assert } from 'node:assert';
import { createServer, type AddressInfo } from 'node:net';
import { runProbe } from '../../src/checks/run';
import type { MailboxSpec } from '../../src/checks/mailbox';
import { requirePart } from '../helpers/env';
import { ALICE, BOB, CAROL, missingDovecot, startDovecot, type Dovecot } from '../helpers/mail-dovecot';
import { ADDR, V6, silentServer, within } from '../helpers/mail-net';

type Service = 'pop' | 'pops' | 'imap' | 'imaps';
const SERVICES: Service[] = ['pop', 'pops', 'imap', 'imaps'];
const LABEL: Record<Service, string> = { pop: 'POP3', pops: 'POP3S', imap: 'IMAP', imaps: 'IMAPS' };

function spec(service: Service, port: number, o: Partial<MailboxSpec> = {}): MailboxSpec {
  return {
    kind: 'mailbox',
    protocol: service.startsWith('pop') ? 'pop' : 'imap',
    tls: service.endsWith('s'),
    host: ADDR.mailbox,
    port,
    user: '',
    password: '',
    timeoutMs: 5000,
    ...o,
  };
}

describe('checks: pop/pops/imap/imaps against a real dovecot', function () {
  this.timeout(40_000);
  let dc: Dovecot | undefined;
  const port = (s: Service) => {
    const p = dc!.ports;
    return { pop: p.pop3, pops: p.pop3s, imap: p.imap, imaps: p.imaps }[s];
  };

  before(async function () {
    requirePart(this, missingDovecot());
    dc = await startDovecot(ADDR.mailbox, V6);
  });
  after(async () => {
    await dc?.stop();
  });

  for (const s of SERVICES) {
    describe(s, () => {
      it('is up when the server greets and no login is configured', async () => {
        const r = await runProbe(spec(s, port(s)));
        assert.equal(r.up, true, r.reason);
        assert.match(
          r.reason,
          s.startsWith('pop')
            ? new RegExp(`^${LABEL[s]} greeting \\+OK$`)
            : new RegExp(`^${LABEL[s]} greeting \\* OK$`),
        );
      });

      it('is up when the login succeeds', async () => {
        const r = await runProbe(spec(s, port(s), ALICE));
        assert.deepEqual([r.up, r.reason], [true, `${LABEL[s]} login as alice accepted`]);
      });

      it('logs in with a password that needs IMAP quoting (", \\, space)', async () => {
        const r = await runProbe(spec(s, port(s), CAROL));
        assert.deepEqual([r.up, r.reason], [true, `${LABEL[s]} login as carol accepted`]);
      });

      it('logs in with a password that needs an IMAP literal (non-ASCII)', async () => {
        const r = await runProbe(spec(s, port(s), BOB));
        assert.deepEqual([r.up, r.reason], [true, `${LABEL[s]} login as bob accepted`]);
      });

      it('is down on a wrong password, and the reason does not show the password', async () => {
        const password = 'not-the-password';
        const r = await runProbe(spec(s, port(s), { user: 'alice', password }));
        assert.equal(r.up, false);
        assert.match(r.reason, new RegExp(`^${LABEL[s]} login as alice failed: .*Authentication failed`));
        assert.ok(!r.reason.includes(password), r.reason);
      });

      it('works over IPv6 (::1)', async () => {
        const r = await runProbe(spec(s, port(s), { host: V6, ...ALICE }));
        assert.deepEqual([r.up, r.reason], [true, `${LABEL[s]} login as alice accepted`]);
      });
    });
  }

  describe('wrong port, misbehaving server, bad login', () => {
    it('pops against the plain POP3 port is down: the TLS handshake fails', async () => {
      const r = await runProbe(spec('pops', port('pop')));
      assert.equal(r.up, false);
      assert.match(r.reason, /^TLS handshake /);
    });

    it('pop against the IMAP port is down: the greeting is not +OK', async () => {
      const r = await runProbe(spec('pop', port('imap')));
      assert.equal(r.up, false);
      assert.match(r.reason, /^POP3 greeting: expected \+OK, got "\* OK /);
    });

    it('imap against the POP3 port is down: the greeting is not * OK', async () => {
      const r = await runProbe(spec('imap', port('pop')));
      assert.equal(r.up, false);
      assert.match(r.reason, /^IMAP greeting: expected "\* OK", got "\+OK /);
    });

    it('hides the password when a (scripted) server echoes it back in its error', async () => {
      const password = 'echo-me-42';
      const srv = createServer((sock) => {
        sock.on('error', () => undefined);
        sock.write('+OK ready\r\n');
        let buf = '';
        sock.on('data', (d: Buffer) => {
          buf += d.toString();
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line.startsWith('USER ')) sock.write('+OK\r\n');
            else if (line.startsWith('PASS ')) sock.write(`-ERR password ${line.slice(5)} is wrong\r\n`);
            else sock.end('+OK bye\r\n');
          }
        });
      });
      await new Promise<void>((r) => srv.listen(0, ADDR.mailbox, () => r()));
      try {
        const r = await runProbe(spec('pop', (srv.address() as AddressInfo).port, { user: 'alice', password }));
        assert.deepEqual([r.up, r.reason], [false, 'POP3 login as alice failed: "-ERR password *** is wrong"']);
      } finally {
        await new Promise((r) => srv.close(r));
      }
    });

    it('refuses to send a login containing a line break (command injection)', async () => {
      const r = await runProbe(spec('pop', port('pop'), { user: 'alice\r\nDELE 1', password: 'x' }));
      assert.equal(r.up, false);
      assert.match(r.reason, /line break/);
    });
  });

  describe('deadline', () => {
    for (const s of SERVICES) {
      it(`${s}: a server that accepts and never answers is down at the deadline, and the socket is closed`, async () => {
        const hung = await silentServer(ADDR.mailbox);
        try {
          const r = await runProbe(spec(s, hung.port, { ...ALICE, timeoutMs: 1000 }));
          assert.equal(r.up, false);
          assert.match(r.reason, /timed out after 1 s$/);
          assert.match(r.reason, s.endsWith('s') ? /^TLS handshake: / : new RegExp(`^${LABEL[s]} greeting: `));
          await within(hung.firstClosed, 2000, 'the server seeing the check close its connection');
        } finally {
          await hung.close();
        }
      });
    }
  });

  // Last (mocha runs nested describes in order, after any top-level it): stops the server.
  describe('server stopped', () => {
    for (const s of SERVICES) {
      it(`${s}: is down once the server is stopped`, async () => {
        await dc!.stop();
        const r = await runProbe(spec(s, port(s), ALICE));
        assert.deepEqual([r.up, r.reason], [false, 'connect ECONNREFUSED']);
      });
    }
  });
});
