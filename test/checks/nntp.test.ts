/**
 * nntp negotiate check against a real NNTP server, Debian's leafnode (throwaway, see
 * helpers/mail-leafnode.ts), on 127.20.4.1 and ::1.
 *
 * leafnode can greet 200, or refuse with a 503; it cannot be made to greet 400 or 502
 * from a loopback client. Those two greetings, a server that closes at once and a server
 * that never speaks come from small scripted TCP servers here: they test how the check
 * reads a greeting, not an NNTP implementation.
 */
import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:net';
import { runProbe } from '../../src/checks/run';
import type { NntpSpec } from '../../src/checks/nntp';
import { requirePart } from '../helpers/env';
import { BAD_FQDN, GOOD_FQDN, missingLeafnode, startLeafnode, type Leafnode } from '../helpers/mail-leafnode';
import { ADDR, V6, closedPort, silentServer, within } from '../helpers/mail-net';

const spec = (port: number, o: Partial<NntpSpec> = {}): NntpSpec => ({
  kind: 'nntp',
  host: ADDR.nntp,
  port,
  timeoutMs: 5000,
  ...o,
});

/** A scripted server that writes `text` to every connection and closes it. */
function sayAndClose(host: string, text: string): Promise<{ port: number; close: () => Promise<void> }> {
  return new Promise((resolve) => {
    const srv: Server = createServer((s) => {
      s.on('error', () => undefined);
      s.end(text);
    });
    srv.listen({ host, port: 0 }, () =>
      resolve({
        port: (srv.address() as { port: number }).port,
        close: () => new Promise((r) => srv.close(() => r())),
      }),
    );
  });
}

describe('checks: nntp', function () {
  this.timeout(20_000);

  describe('against a real leafnode', () => {
    const servers: Leafnode[] = [];
    before(function () {
      requirePart(this, missingLeafnode());
    });
    afterEach(async () => {
      await Promise.all(servers.splice(0).map((s) => s.stop()));
    });
    // leafnode is started per connection (unshare, mounts, exec): allow a loaded machine time.
    const slow = { timeoutMs: 10_000 };
    const start = async (host: string, fqdn: string) => {
      const s = await startLeafnode(host, fqdn);
      servers.push(s);
      return s;
    };

    it('is up on a 200 greeting, and reports the first 64 bytes as Perl read them', async () => {
      const ln = await start(ADDR.nntp, GOOD_FQDN);
      const r = await runProbe(spec(ln.port, slow));
      assert.equal(r.up, true, `${r.reason}\n${ln.output()}`);
      // Perl's sysread($sock, $buf, 64): the greeting is cut at 64 bytes.
      assert.equal(
        r.reason,
        `NNTP greeting ${JSON.stringify(`200 Leafnode NNTP Daemon, version 1.12.0 running at ${GOOD_FQDN}`.slice(0, 64))}`,
      );
    });

    it('works over IPv6 (::1)', async () => {
      const ln = await start(V6, GOOD_FQDN);
      const r = await runProbe(spec(ln.port, { host: V6, ...slow }));
      assert.equal(r.up, true, `${r.reason}\n${ln.output()}`);
      assert.match(r.reason, /^NNTP greeting "200 Leafnode/);
    });

    it('is down when the server refuses service at the greeting (503)', async () => {
      const ln = await start(ADDR.nntp, BAD_FQDN);
      const r = await runProbe(spec(ln.port, slow));
      assert.equal(r.up, false);
      assert.match(
        r.reason,
        /^NNTP greeting: expected 2xx, got "503 Leafnode must have a unique fully-qualified domain name/,
      );
    });

    it('is down once the server is stopped', async () => {
      const ln = await start(ADDR.nntp, GOOD_FQDN);
      await ln.stop();
      const r = await runProbe(spec(ln.port));
      assert.deepEqual([r.up, r.reason], [false, 'connect ECONNREFUSED']);
    });
  });

  describe('greetings from scripted servers', () => {
    for (const [greeting, shown] of [
      ['400 Service temporarily unavailable\r\n', '400 Service temporarily unavailable'],
      ['502 Access denied\r\n', '502 Access denied'],
    ] as const) {
      it(`is down on "${shown}"`, async () => {
        const s = await sayAndClose(ADDR.nntp, greeting);
        try {
          const r = await runProbe(spec(s.port));
          assert.deepEqual([r.up, r.reason], [false, `NNTP greeting: expected 2xx, got "${shown}"`]);
        } finally {
          await s.close();
        }
      });
    }

    it('is up on "201" (no posting): only the leading 2 matters, as in Perl', async () => {
      const s = await sayAndClose(ADDR.nntp, '201 read-only news server\r\n');
      try {
        const r = await runProbe(spec(s.port));
        assert.deepEqual([r.up, r.reason], [true, 'NNTP greeting "201 read-only news server"']);
      } finally {
        await s.close();
      }
    });

    it('is down when the server closes without a greeting', async () => {
      const s = await sayAndClose(ADDR.nntp, '');
      try {
        const r = await runProbe(spec(s.port));
        assert.deepEqual(
          [r.up, r.reason],
          [false, 'NNTP greeting: connection closed by server before sending anything'],
        );
      } finally {
        await s.close();
      }
    });

    it('is down on a closed port', async () => {
      const r = await runProbe(spec(await closedPort(ADDR.nntp)));
      assert.deepEqual([r.up, r.reason], [false, 'connect ECONNREFUSED']);
    });

    it('is down at the deadline when the server accepts and never speaks, and closes its socket', async () => {
      const hung = await silentServer(ADDR.nntp);
      try {
        const r = await runProbe(spec(hung.port, { timeoutMs: 1000 }));
        assert.deepEqual([r.up, r.reason], [false, 'NNTP greeting: timed out after 1 s']);
        await within(hung.firstClosed, 2000, 'the server seeing the check close its connection');
      } finally {
        await hung.close();
      }
    });
  });
});
