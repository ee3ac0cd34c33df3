/**
 * Real servers for daemon-level tests: small Node TCP and HTTP servers listening on
 * loopback addresses (all of 127.0.0.0/8 is local on Linux, so no setup is needed), that
 * a test starts, stops and breaks on purpose.
 *
 * - `tcp`: accepts and closes; a connect check sees it up while it listens, and gets
 *   "connection refused" once it is stopped.
 * - `http`: answers every request with `status` and `body` (200 "OK" by default), so a
 *   negotiate check can be failed without closing the port (`answer(500, …)`,
 *   `answer(200, 'wrong')`).
 * - `proxy`: forwards each connection, byte for byte, to `target` (a real service such as
 *   a throwaway MariaDB), so several real servers can share one backend and each be
 *   taken down on its own.
 *
 * Stopping closes the listener and destroys every open connection at once, so nothing
 * lingers into the next step of a test.
 */
import { connect, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer } from 'node:http';

export type RealKind = 'tcp' | 'http' | 'proxy';

export class RealServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  status = 200;
  body = 'OK';
  /** Connections accepted (tcp, proxy) or requests answered (http) so far. */
  hits = 0;
  /** Where a proxy forwards to. */
  target: { host: string; port: number } | null = null;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly kind: RealKind = 'tcp',
  ) {}

  get name(): string {
    return `${this.host}:${this.port}`;
  }

  get listening(): boolean {
    return this.server !== null;
  }

  /**
   * An http server's answers in a cycle, one letter per request: `u` answers as set, `d`
   * with a 500 (`udd`: up one check in three); null: always as set.
   */
  pattern: string | null = null;

  /** What an http server answers from now on. */
  answer(status: number, body: string): this {
    this.status = status;
    this.body = body;
    return this;
  }

  async start(): Promise<this> {
    if (this.server) return this;
    const server =
      this.kind === 'http'
        ? createHttpServer((req, res) => {
            this.hits++;
            req.resume();
            const down = this.pattern !== null && this.pattern[(this.hits - 1) % this.pattern.length] === 'd';
            res.writeHead(down ? 500 : this.status, { 'Content-Type': 'text/plain', Connection: 'close' });
            res.end(req.method === 'HEAD' ? undefined : this.body);
          })
        : createTcpServer((sock) => {
            this.hits++;
            sock.on('error', () => undefined);
            if (this.kind !== 'proxy') {
              sock.end();
              return;
            }
            if (!this.target) {
              sock.destroy();
              return;
            }
            const up = connect(this.target);
            this.sockets.add(up);
            up.on('close', () => this.sockets.delete(up));
            up.on('error', () => sock.destroy());
            sock.on('close', () => up.destroy());
            up.on('close', () => sock.destroy());
            sock.pipe(up);
            up.pipe(sock);
          });
    server.on('connection', (sock: Socket) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.host, port: this.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }
}

/** A set of real servers, stopped together at the end of a test. */
export class RealServers {
  private readonly all = new Map<string, RealServer>();

  add(host: string, port: number, kind: RealKind = 'tcp'): RealServer {
    const s = new RealServer(host, port, kind);
    if (this.all.has(s.name)) throw new Error(`real server ${s.name} defined twice`);
    this.all.set(s.name, s);
    return s;
  }

  get(name: string): RealServer {
    const s = this.all.get(name);
    if (!s) throw new Error(`no real server ${name}`);
    return s;
  }

  async startAll(): Promise<void> {
    await Promise.all([...this.all.values()].map((s) => s.start()));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.all.values()].map((s) => s.stop()));
  }

  /** `127.40.1.2:8080 up, 127.40.1.3:8080 down (http 500)`, for failure messages. */
  describe(): string {
    return [...this.all.values()]
      .map(
        (s) =>
          `${s.name} ${s.listening ? 'listening' : 'stopped'}${s.kind === 'http' && s.listening ? ` (answers ${s.status} ${JSON.stringify(s.body)})` : ''}`,
      )
      .join(', ');
  }
}
