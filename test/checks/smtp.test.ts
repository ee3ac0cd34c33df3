/**
 * smtp/submission negotiate check against real SMTP server code: nodemailer's maintained
 * `smtp-server` (a full MTA is heavy for a test), configured per case to greet, refuse at
 * the greeting, refuse EHLO, refuse EHLO and HELO (LMTP mode), or never greet.
 */
import { strict as assert } from 'node:assert';
import type { Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { runProbe } from '../../src/checks/run';
import type { SmtpSpec } from '../../src/checks/smtp';
import { ADDR, V6, closedPort, within } from '../helpers/mail-net';

interface Running {
  port: number;
  /** Resolves when the first connection the server accepted is closed. */
  firstClosed: Promise<void>;
  close(): Promise<void>;
}

function startSmtp(host: string, options: SMTPServerOptions): Promise<Running> {
  const server = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    hideSTARTTLS: true,
    disabledCommands: ['STARTTLS', ...(options.disabledCommands ?? [])],
    ...options,
  });
  let onFirstClosed!: () => void;
  const firstClosed = new Promise<void>((r) => (onFirstClosed = r));
  server.server.on('connection', (s: Socket) => s.once('close', () => onFirstClosed()));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () =>
      resolve({
        port: (server.server.address() as { port: number }).port,
        firstClosed,
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    );
  });
}

const spec = (port: number, o: Partial<SmtpSpec> = {}): SmtpSpec => ({
  kind: 'smtp',
  host: ADDR.smtp,
  port,
  timeoutMs: 5000,
  ...o,
});

describe('checks: smtp against smtp-server', function () {
  this.timeout(20_000);
  const servers: Running[] = [];
  const start = async (host: string, o: SMTPServerOptions) => {
    const s = await startSmtp(host, o);
    servers.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('is up after a 220 greeting and an accepted EHLO', async () => {
    const s = await start(ADDR.smtp, {});
    const r = await runProbe(spec(s.port));
    assert.deepEqual([r.up, r.reason], [true, 'SMTP greeting 220, EHLO 250']);
  });

  it('works over IPv6 (::1)', async () => {
    const s = await start(V6, {});
    const r = await runProbe(spec(s.port, { host: V6 }));
    assert.deepEqual([r.up, r.reason], [true, 'SMTP greeting 220, EHLO 250']);
  });

  it('falls back to HELO when EHLO is refused with a 5xx, as Net::SMTP does', async () => {
    const s = await start(ADDR.smtp, { disabledCommands: ['EHLO'] });
    const r = await runProbe(spec(s.port));
    assert.deepEqual([r.up, r.reason], [true, 'SMTP greeting 220, HELO 250 (EHLO refused with 500)']);
  });

  it('is down when both EHLO and HELO are refused (an LMTP server)', async () => {
    const s = await start(ADDR.smtp, { lmtp: true });
    const r = await runProbe(spec(s.port));
    assert.equal(r.up, false);
    assert.equal(r.reason, 'SMTP HELO: expected 2xx, got "500 Error: HELO not allowed in LMTP server"');
  });

  it('is down when the server answers 554 at the greeting', async () => {
    const s = await start(ADDR.smtp, {
      onConnect(_session, callback) {
        callback(Object.assign(new Error('No SMTP service here'), { responseCode: 554 }));
      },
    });
    const r = await runProbe(spec(s.port));
    assert.deepEqual([r.up, r.reason], [false, 'SMTP greeting: expected 2xx, got "554 No SMTP service here"']);
  });

  it('is down on a closed port', async () => {
    const r = await runProbe(spec(await closedPort(ADDR.smtp)));
    assert.deepEqual([r.up, r.reason], [false, 'connect ECONNREFUSED']);
  });

  it('is down at the deadline when the server accepts and never greets, and closes its socket', async () => {
    const s = await start(ADDR.smtp, {
      onConnect() {
        // Never call back: the connection is accepted and no greeting is ever sent.
      },
    });
    const r = await runProbe(spec(s.port, { timeoutMs: 1000 }));
    assert.deepEqual([r.up, r.reason], [false, 'SMTP greeting: timed out after 1 s']);
    await within(s.firstClosed, 2000, 'the server seeing the check close its connection');
  });
});
