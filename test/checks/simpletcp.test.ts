/**
 * simpletcp negotiate check against Node TCP and UDP servers written here (simpletcp is a
 * generic "send this, expect that" check, so the servers are small scripts), on
 * 127.20.5.1 and ::1.
 */
import { strict as assert } from 'node:assert';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { runProbe } from '../../src/checks/run';
import { compileReceive } from '../../src/checks/receive';
import type { SimpleTcpSpec } from '../../src/checks/simpletcp';
import { ADDR, V6, closedPort, within } from '../helpers/mail-net';

interface TcpScript {
  /** What to do once the client's request is complete (it half-closed). */
  onRequest(request: string, sock: Socket): void;
}

interface Running {
  port: number;
  /** Requests received, in order. */
  requests: string[];
  /** Resolves when the first connection is closed. */
  firstClosed: Promise<void>;
  close(): Promise<void>;
}

function tcpServer(host: string, script: TcpScript): Promise<Running> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  let onFirstClosed!: () => void;
  const firstClosed = new Promise<void>((r) => (onFirstClosed = r));
  const srv: Server = createServer({ allowHalfOpen: true }, (sock) => {
    sockets.add(sock);
    sock.on('error', () => undefined);
    sock.once('close', () => {
      sockets.delete(sock);
      onFirstClosed();
    });
    let data = '';
    sock.on('data', (d: Buffer) => (data += d.toString('utf8')));
    // The check half-closes after its request (Perl: shutdown SHUT_WR): only then answer.
    sock.once('end', () => {
      requests.push(data);
      script.onRequest(data, sock);
    });
  });
  return new Promise((resolve) =>
    srv.listen({ host, port: 0 }, () =>
      resolve({
        port: (srv.address() as { port: number }).port,
        requests,
        firstClosed,
        close: () =>
          new Promise((r) => {
            for (const s of sockets) s.destroy();
            srv.close(() => r());
          }),
      }),
    ),
  );
}

function udpServer(
  host: string,
  reply: ((request: string) => string | null) | null,
): Promise<{ port: number; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const sock: UdpSocket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  sock.on('message', (msg, rinfo) => {
    requests.push(msg.toString('utf8'));
    const answer = reply?.(msg.toString('utf8'));
    if (answer !== null && answer !== undefined) sock.send(answer, rinfo.port, rinfo.address);
  });
  return new Promise((resolve) =>
    sock.bind(0, host, () =>
      resolve({ port: sock.address().port, requests, close: () => new Promise((r) => sock.close(() => r())) }),
    ),
  );
}

const spec = (port: number, o: Omit<Partial<SimpleTcpSpec>, 'receive'> & { receive?: string } = {}): SimpleTcpSpec => {
  const { receive, ...rest } = o;
  return {
    kind: 'simpletcp',
    host: ADDR.simpletcp,
    port,
    udp: false,
    send: 'STATUS\n',
    receive: compileReceive(receive ?? 'ready'),
    timeoutMs: 5000,
    ...rest,
  };
};

describe('checks: simpletcp', function () {
  this.timeout(20_000);
  const open: Array<{ close: () => Promise<void> }> = [];
  const keep = <T extends { close: () => Promise<void> }>(s: T): T => {
    open.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  describe('tcp', () => {
    const answer = (text: string) => ({ onRequest: (_req: string, sock: Socket) => sock.end(text) });

    it('sends the request, half-closes, and is up when a line matches', async () => {
      const s = keep(await tcpServer(ADDR.simpletcp, answer('hello\nstatus: ready\n')));
      const r = await runProbe(spec(s.port));
      assert.deepEqual([r.up, r.reason], [true, 'simpletcp: line 2 matched: "status: ready"']);
      assert.deepEqual(s.requests, ['STATUS\n']);
    });

    it("matches with Perl regex semantics ($ before the line's newline)", async () => {
      const s = keep(await tcpServer(ADDR.simpletcp, answer('status: ready\r\n')));
      const r = await runProbe(spec(s.port, { receive: '^status: ready\\s*$' }));
      assert.equal(r.up, true, r.reason);
    });

    it('counts a last line without newline when the server closes', async () => {
      const s = keep(await tcpServer(ADDR.simpletcp, answer('first\nOK')));
      const r = await runProbe(spec(s.port, { receive: '^OK$' }));
      assert.deepEqual([r.up, r.reason], [true, 'simpletcp: line 2 matched: "OK"']);
    });

    it('is down when no line matches before the server closes', async () => {
      const s = keep(await tcpServer(ADDR.simpletcp, answer('status: down\nbye\n')));
      const r = await runProbe(spec(s.port));
      assert.deepEqual(
        [r.up, r.reason],
        [false, 'simpletcp: no line matched receive (2 lines, first "status: down") before the server closed'],
      );
    });

    it('with an empty receive, is up when any line arrives', async () => {
      const s = keep(await tcpServer(ADDR.simpletcp, answer('anything\n')));
      const r = await runProbe(spec(s.port, { receive: '' }));
      assert.deepEqual([r.up, r.reason], [true, 'simpletcp: got a line: "anything"']);
    });

    it('with an empty receive, is down when the server closes without a line', async () => {
      const s = keep(await tcpServer(ADDR.simpletcp, answer('')));
      const r = await runProbe(spec(s.port, { receive: '' }));
      assert.deepEqual([r.up, r.reason], [false, 'simpletcp: no line received before the server closed']);
    });

    it('sends an empty request as just the half-close', async () => {
      const s = keep(await tcpServer(ADDR.simpletcp, answer('ready\n')));
      const r = await runProbe(spec(s.port, { send: '' }));
      assert.equal(r.up, true, r.reason);
      assert.deepEqual(s.requests, ['']);
    });

    it('works over IPv6 (::1)', async () => {
      const s = keep(await tcpServer(V6, answer('ready\n')));
      const r = await runProbe(spec(s.port, { host: V6 }));
      assert.deepEqual([r.up, r.reason], [true, 'simpletcp: line 1 matched: "ready"']);
    });

    it('is down on a closed port', async () => {
      const r = await runProbe(spec(await closedPort(ADDR.simpletcp)));
      assert.deepEqual([r.up, r.reason], [false, 'connect ECONNREFUSED']);
    });

    it('is down at the deadline when the server never answers, and closes its socket', async () => {
      let held: Socket | undefined;
      const s = keep(await tcpServer(ADDR.simpletcp, { onRequest: (_q, sock) => (held = sock) }));
      const r = await runProbe(spec(s.port, { timeoutMs: 1000 }));
      assert.deepEqual([r.up, r.reason], [false, 'simpletcp: no line received; timed out after 1 s']);
      // The check half-closed long ago, so its full close is silent: late answers from the
      // server meet a reset (then EPIPE) only if the check's socket is really gone.
      const poke = setInterval(() => held!.write('too late\n'), 100);
      try {
        await within(s.firstClosed, 2000, 'the server seeing the check close its connection');
      } finally {
        clearInterval(poke);
      }
    });

    it('is down at the deadline when lines arrive but none matches and the server stays open', async () => {
      const s = keep(await tcpServer(ADDR.simpletcp, { onRequest: (_q, sock) => sock.write('busy\n') }));
      const r = await runProbe(spec(s.port, { timeoutMs: 1000 }));
      assert.deepEqual(
        [r.up, r.reason],
        [false, 'simpletcp: no line matched receive (1 line, first "busy"); timed out after 1 s'],
      );
    });

    it('stops reading after 1 MiB', async () => {
      const line = 'x'.repeat(1023) + '\n';
      const s = keep(await tcpServer(ADDR.simpletcp, { onRequest: (_q, sock) => sock.write(line.repeat(2048)) }));
      const r = await runProbe(spec(s.port, { timeoutMs: 5000 }));
      assert.equal(r.up, false);
      assert.match(
        r.reason,
        /^simpletcp: no line matched receive \(1024 lines, first "x+\.\.\. \(1023 bytes\)"\) in the first 1048576 bytes$/,
      );
    });
  });

  describe('udp', () => {
    const udpSpec = (port: number, o: Parameters<typeof spec>[1] = {}) => spec(port, { udp: true, ...o });

    it('sends the request as one datagram and is up when a reply line matches', async () => {
      const s = keep(await udpServer(ADDR.simpletcp, () => 'hello\nstatus: ready\n'));
      const r = await runProbe(udpSpec(s.port));
      assert.deepEqual([r.up, r.reason], [true, 'simpletcp: line 2 matched: "status: ready"']);
      assert.deepEqual(s.requests, ['STATUS\n']);
    });

    it('ends a line at the end of a datagram (a reply without newline)', async () => {
      const s = keep(await udpServer(ADDR.simpletcp, () => 'ready'));
      const r = await runProbe(udpSpec(s.port, { receive: '^ready$' }));
      assert.deepEqual([r.up, r.reason], [true, 'simpletcp: line 1 matched: "ready"']);
    });

    it('works over IPv6 (::1)', async () => {
      const s = keep(await udpServer(V6, () => 'ready\n'));
      const r = await runProbe(udpSpec(s.port, { host: V6 }));
      assert.equal(r.up, true, r.reason);
    });

    it('is down at the deadline when replies do not match (a datagram service never closes)', async () => {
      const s = keep(await udpServer(ADDR.simpletcp, () => 'status: down\n'));
      const r = await runProbe(udpSpec(s.port, { timeoutMs: 1000 }));
      assert.deepEqual(
        [r.up, r.reason],
        [false, 'simpletcp (udp): no line matched receive (1 line, first "status: down"); timed out after 1 s'],
      );
    });

    it('is down at the deadline when the server is silent', async () => {
      const s = keep(await udpServer(ADDR.simpletcp, null));
      const r = await runProbe(udpSpec(s.port, { timeoutMs: 1000 }));
      assert.deepEqual([r.up, r.reason], [false, 'simpletcp (udp): no line received; timed out after 1 s']);
      assert.deepEqual(s.requests, ['STATUS\n']);
    });

    it('is down on a closed port (ICMP port unreachable)', async () => {
      const s = keep(await udpServer(ADDR.simpletcp, null));
      const port = s.port;
      await open.pop()!.close();
      const r = await runProbe(udpSpec(port, { timeoutMs: 2000 }));
      assert.deepEqual([r.up, r.reason], [false, 'simpletcp (udp): no line received; ECONNREFUSED']);
    });
  });
});
