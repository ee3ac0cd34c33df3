/**
 * HTTP, HTTPS and http_proxy negotiate checks against real Node servers on 127.10.1.0/24
 * (and ::1), each in the state the check must recognise. Results and reasons are
 * asserted, never durations: a timeout shows as the runner's timeout reason.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { http } from '../../src/checks/http';
import { runProbe } from '../../src/checks/run';
import { compileReceive } from '../../src/checks/receive';
import type { HttpSpec } from '../../src/checks/http';
import { requirePart } from '../helpers/env';
import { blackhole, closedPort, closeServer, eventually, listen, tcpSocketsTo } from '../helpers/net';
import { selfSigned } from '../helpers/tls';

const H = '127.10.1.1'; // the web server
const HUNG = '127.10.1.2'; // accepts, never answers
const RESET = '127.10.1.3'; // accepts, resets
const TLSH = '127.10.1.4'; // HTTPS, self-signed
const PROXY = '127.10.1.5'; // an HTTP proxy
const BLACK = '127.10.255.2'; // every packet dropped

function spec(over: Partial<HttpSpec>): HttpSpec {
  return {
    kind: 'http',
    url: `http://${H}/`,
    method: 'GET',
    hostHeader: H,
    proxy: null,
    receive: null,
    timeoutMs: 3000,
    ...over,
  };
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

describe('checks: http negotiate', function () {
  this.timeout(20000);
  let web: HttpServer;
  let port: number;
  const seen: Seen[] = [];
  /** Server-side sockets still open (to see that a check tears its connection down). */
  const open = new Set<Socket>();
  let loops = 0;

  before(async () => {
    web = createServer((req, res) => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers });
      const path = req.url!;
      if (path === '/ok' || path === '/') return res.end('OK\n');
      if (path === '/503') {
        res.writeHead(503);
        return res.end('down for maintenance');
      }
      if (path === '/custom-reason') {
        res.writeHead(200, 'Fine Thanks');
        return res.end();
      }
      if (path === '/big2k') return res.end('x'.repeat(2048));
      if (path === '/status') return res.end('<html>\r\nStatus: GOOD\n');
      if (path === '/old') {
        res.writeHead(302, { location: '/ok' });
        return res.end('moved');
      }
      if (path === '/abs-redirect') {
        res.writeHead(301, { location: `http://${H}:${port}/status` });
        return res.end();
      }
      if (path === '/loop') {
        loops++;
        res.writeHead(302, { location: '/loop' });
        return res.end();
      }
      if (path === '/stall') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('0123456789');
        return; // never ends
      }
      if (path === '/10m') {
        const mb = Buffer.alloc(1024 * 1024, 'a');
        res.writeHead(200, { 'content-length': String(10 * mb.length + 3) });
        res.write('START');
        let n = 0;
        const more = () => {
          while (n < 10) {
            n++;
            if (!res.write(n === 1 ? mb.subarray(5) : mb)) return void res.once('drain', more);
          }
          res.end('END');
        };
        return more();
      }
      if (path === '/ab') {
        // Random a/b: walks every state of a pattern with an exponential DFA.
        let seed = 5;
        let body = '';
        for (let i = 0; i < 300_000; i++)
          body += ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16) & 1 ? 'a' : 'b';
        return res.end(body + 'c');
      }
      if (path === '/endless') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const chunk = Buffer.alloc(64 * 1024, 'b');
        const more = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', more);
        };
        return more();
      }
      res.writeHead(404);
      res.end('no such page');
    });
    web.on('connection', (s) => {
      open.add(s);
      s.on('close', () => open.delete(s));
    });
    port = await listen(web, H);
  });

  after(async () => {
    await closeServer(web);
  });

  it('is up on 200 and sends the Host header and GET on a connection of its own (Connection: close), as Perl', async () => {
    seen.length = 0;
    const r = await runProbe(spec({ url: `http://${H}:${port}/ok`, hostHeader: 'www.example.test' }));
    assert.deepEqual([r.up, r.reason], [true, 'HTTP 200 OK']);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.method, 'GET');
    assert.equal(seen[0]!.url, '/ok');
    assert.equal(seen[0]!.headers.host, 'www.example.test');
    assert.equal(seen[0]!.headers.connection, 'close');
    assert.equal(seen[0]!.headers['user-agent'], 'libwww-perl/6.68');
    assert.ok(await eventually(() => open.size === 0), 'the check closed its connection');
  });

  it("reports the server's own reason phrase", async () => {
    const r = await runProbe(spec({ url: `http://${H}:${port}/custom-reason` }));
    assert.deepEqual([r.up, r.reason], [true, 'HTTP 200 Fine Thanks']);
  });

  it('is down on 503', async () => {
    const r = await runProbe(spec({ url: `http://${H}:${port}/503` }));
    assert.deepEqual([r.up, r.reason], [false, 'HTTP 503 Service Unavailable']);
  });

  it('is down on 404 even when the receive would match', async () => {
    const r = await runProbe(spec({ url: `http://${H}:${port}/nothing`, receive: compileReceive('page') }));
    assert.deepEqual([r.up, r.reason], [false, 'HTTP 404 Not Found']);
  });

  it('is down when the receive string is not in the body', async () => {
    const r = await runProbe(spec({ url: `http://${H}:${port}/big2k`, receive: compileReceive('OK') }));
    assert.deepEqual([r.up, r.reason], [false, 'receive "OK" not found in 2 KiB body']);
  });

  it('is up when the receive regex matches (Perl semantics: $ before a final newline, . matches \\r)', async () => {
    for (const re of ['Status: (OK|GOOD)$', '^<html>', 'html>.\\nStatus', 'GOOD\\s*$']) {
      const r = await runProbe(spec({ url: `http://${H}:${port}/status`, receive: compileReceive(re) }));
      assert.deepEqual([r.up, r.reason], [true, 'HTTP 200 OK'], re);
    }
    for (const re of ['^GOOD', '^Status']) {
      const miss = await runProbe(spec({ url: `http://${H}:${port}/status`, receive: compileReceive(re) }));
      assert.equal(miss.up, false, re);
    }
  });

  it('follows a redirect, without the Host override, as LWP does', async () => {
    seen.length = 0;
    const r = await runProbe(
      spec({ url: `http://${H}:${port}/old`, hostHeader: 'vhost.example.test', receive: compileReceive('OK') }),
    );
    assert.deepEqual([r.up, r.reason], [true, 'HTTP 200 OK (after 1 redirect)']);
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/old', '/ok'],
    );
    assert.equal(seen[0]!.headers.host, 'vhost.example.test');
    assert.equal(seen[1]!.headers.host, `${H}:${port}`);
  });

  it('sends basic authentication for user:password@ in the URL, as LWP, and never shows it', async () => {
    seen.length = 0;
    const r = await runProbe(spec({ url: `http://checker:p%40ss@${H}:${port}/ok` }));
    assert.deepEqual([r.up, r.reason], [true, 'HTTP 200 OK']);
    assert.equal(seen[0]!.headers.authorization, 'Basic ' + Buffer.from('checker:p@ss').toString('base64'));
    const bad = await runProbe(spec({ url: 'http://checker:hunter2@[bad/' }));
    assert.equal(bad.up, false);
    assert.ok(!bad.reason.includes('hunter2'), bad.reason);
  });

  it('follows an absolute redirect', async () => {
    const r = await runProbe(spec({ url: `http://${H}:${port}/abs-redirect`, receive: compileReceive('GOOD') }));
    assert.deepEqual([r.up, r.reason], [true, 'HTTP 200 OK (after 1 redirect)']);
  });

  it('stops after 7 redirects (the last 3xx is the answer: down)', async () => {
    loops = 0;
    const r = await runProbe(spec({ url: `http://${H}:${port}/loop` }));
    assert.deepEqual([r.up, r.reason], [false, 'HTTP 302 Found (more than 7 redirects)']);
    assert.equal(loops, 8);
  });

  it('HEAD: up on 200 without a receive; always down with one (no body), as in Perl', async () => {
    seen.length = 0;
    const r = await runProbe(spec({ url: `http://${H}:${port}/ok`, method: 'HEAD' }));
    assert.deepEqual([r.up, r.reason], [true, 'HTTP 200 OK']);
    assert.equal(seen[0]!.method, 'HEAD');
    const r2 = await runProbe(spec({ url: `http://${H}:${port}/ok`, method: 'HEAD', receive: compileReceive('OK') }));
    assert.equal(r2.up, false);
    assert.equal(r2.reason, 'HTTP 200 OK, but receive "OK" cannot match: a HEAD response has no body');
  });

  it('is down with connect ECONNREFUSED on a closed port', async () => {
    const p = await closedPort(H);
    const r = await runProbe(spec({ url: `http://${H}:${p}/` }));
    assert.deepEqual([r.up, r.reason], [false, 'connect ECONNREFUSED']);
  });

  describe('servers that stop answering', () => {
    let hung: Server;
    let hungPort: number;
    const hungSockets = new Set<Socket>();
    before(async () => {
      hung = createNetServer((s) => {
        hungSockets.add(s);
        s.on('close', () => hungSockets.delete(s));
        s.on('error', () => undefined);
        s.resume(); // read (and ignore) everything, so the client's close is seen
      });
      hungPort = await listen(hung, HUNG);
    });
    after(() => {
      for (const s of hungSockets) s.destroy();
      return closeServer(hung);
    });

    it('times out at the deadline on a server that accepts and never answers, and closes the connection', async () => {
      const r = await runProbe(spec({ url: `http://${HUNG}:${hungPort}/`, timeoutMs: 500 }));
      assert.deepEqual([r.up, r.reason], [false, 'timed out after 0.5 s']);
      assert.ok(await eventually(() => hungSockets.size === 0), 'the check left its connection open');
    });

    it('times out on headers then a stalled body, and closes the connection', async () => {
      const r = await runProbe(spec({ url: `http://${H}:${port}/stall`, timeoutMs: 500 }));
      assert.deepEqual([r.up, r.reason], [false, 'timed out after 0.5 s']);
      assert.ok(await eventually(() => open.size === 0), 'the check left its connection open');
    });

    it('times out on HTTPS to a server that never answers the TLS handshake', async () => {
      const r = await runProbe(spec({ url: `https://${HUNG}:${hungPort}/`, timeoutMs: 500 }));
      assert.deepEqual([r.up, r.reason], [false, 'timed out after 0.5 s']);
      assert.ok(await eventually(() => hungSockets.size === 0), 'the check left its TLS handshake running');
    });

    it('called with only a signal (no runner hook), an abort still ends it and closes the connection', async () => {
      const ac = new AbortController();
      const p = http.run(spec({ url: `http://${HUNG}:${hungPort}/`, timeoutMs: 10000 }), { signal: ac.signal });
      assert.ok(await eventually(() => hungSockets.size === 1), 'the request is under way');
      ac.abort(new Error('gave up'));
      const r = await p;
      assert.deepEqual([r.up, r.reason], [false, 'gave up']);
      assert.ok(await eventually(() => hungSockets.size === 0), 'the check left its connection open');
    });

    it('stops at once when the daemon stops (outer signal)', async () => {
      const stop = new AbortController();
      const p = runProbe(spec({ url: `http://${HUNG}:${hungPort}/`, timeoutMs: 10000 }), stop.signal);
      setTimeout(() => stop.abort(), 100);
      const r = await p;
      assert.deepEqual([r.up, r.reason], [false, 'stopped']);
      assert.ok(await eventually(() => hungSockets.size === 0));
    });
  });

  describe('blackholed address (every packet dropped)', () => {
    let remove: (() => Promise<void>) | undefined;
    before(async function () {
      const b = await blackhole(BLACK);
      if (typeof b === 'string') return requirePart(this, b);
      remove = b.remove;
    });
    after(async () => {
      await remove?.();
    });

    it('times out at the deadline and leaves no connect behind', async () => {
      const r = await runProbe(spec({ url: `http://${BLACK}:80/`, timeoutMs: 500 }));
      assert.deepEqual([r.up, r.reason], [false, 'timed out after 0.5 s']);
      assert.ok(await eventually(() => tcpSocketsTo(BLACK, 80).length === 0), 'a SYN_SENT socket was left behind');
    });
  });

  it('caps a 10 MiB body at 1 MiB: a receive at its start matches, one at its end is not found', async () => {
    const r = await runProbe(spec({ url: `http://${H}:${port}/10m`, receive: compileReceive('^START') }));
    assert.deepEqual([r.up, r.reason], [true, 'HTTP 200 OK']);
    const r2 = await runProbe(spec({ url: `http://${H}:${port}/10m`, receive: compileReceive('END') }));
    assert.deepEqual([r2.up, r2.reason], [false, 'receive "END" not found in the first 1 MiB of the body']);
    assert.ok(await eventually(() => open.size === 0), 'the capped connection was left open');
  });

  it('caps an endless body and closes the connection', async () => {
    const r = await runProbe(spec({ url: `http://${H}:${port}/endless`, timeoutMs: 5000 }));
    assert.deepEqual([r.up, r.reason], [true, 'HTTP 200 OK']);
    const r2 = await runProbe(
      spec({ url: `http://${H}:${port}/endless`, timeoutMs: 5000, receive: compileReceive('OK') }),
    );
    assert.deepEqual([r2.up, r2.reason], [false, 'receive "OK" not found in the first 1 MiB of the body']);
    assert.ok(await eventually(() => open.size === 0), 'the endless connection was left open');
  });

  it('a receive pattern that would take too much work on the body gives up, down, and stops reading', async () => {
    const r = await runProbe(
      spec({ url: `http://${H}:${port}/ab`, timeoutMs: 5000, receive: compileReceive('(a|b)*a(a|b){20}c') }),
    );
    assert.equal(r.up, false);
    assert.match(r.reason, /^receive "\(a\|b\)\*a\(a\|b\)\{20\}c" gave up after .*: the pattern needs too much work/);
    assert.ok(await eventually(() => open.size === 0), 'the connection was left open');
  });

  describe('a server that resets the connection', () => {
    let srv: Server;
    let p: number;
    before(async () => {
      srv = createNetServer((s) => {
        s.on('error', () => undefined);
        s.once('data', () => s.resetAndDestroy());
      });
      p = await listen(srv, RESET);
    });
    after(() => closeServer(srv));

    it('is down with the reset as the reason', async () => {
      const r = await runProbe(spec({ url: `http://${RESET}:${p}/` }));
      assert.equal(r.up, false);
      assert.match(r.reason, /^no response: connection (reset \(ECONNRESET\)|closed by the server)$/);
    });
  });

  describe('HTTPS', () => {
    let tls: HttpServer;
    let tp: number;
    before(async function () {
      const cert = await selfSigned();
      if (typeof cert === 'string') return requirePart(this, cert);
      tls = createHttpsServer(cert, (req, res) => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers });
        res.end(req.url === '/health' ? 'healthy' : 'hello');
      });
      tp = await listen(tls, TLSH);
      return undefined;
    });
    after(() => closeServer(tls));

    it('is up against a self-signed certificate (W-10 fixed)', async () => {
      seen.length = 0;
      const r = await runProbe(
        spec({ url: `https://${TLSH}:${tp}/health`, hostHeader: TLSH, receive: compileReceive('healthy') }),
      );
      assert.deepEqual([r.up, r.reason], [true, 'HTTP 200 OK']);
      assert.equal(seen[0]!.headers.host, TLSH);
    });

    it('is down with the receive reason over TLS too', async () => {
      const r = await runProbe(spec({ url: `https://${TLSH}:${tp}/`, receive: compileReceive('healthy') }));
      assert.deepEqual([r.up, r.reason], [false, 'receive "healthy" not found in 5 B body']);
    });

    it('reports a failed TLS handshake (HTTPS to a plain HTTP server)', async () => {
      const r = await runProbe(spec({ url: `https://${H}:${port}/` }));
      assert.equal(r.up, false);
      assert.match(r.reason, /^TLS handshake failed: /);
    });

    it('is down with connect ECONNREFUSED on a closed HTTPS port', async () => {
      const p = await closedPort(TLSH);
      const r = await runProbe(spec({ url: `https://${TLSH}:${p}/` }));
      assert.deepEqual([r.up, r.reason], [false, 'connect ECONNREFUSED']);
    });
  });

  describe('http_proxy', () => {
    let proxy: HttpServer;
    let pp: number;
    const asked: Seen[] = [];
    before(async () => {
      // The real server is a proxy: it gets the absolute URL and answers for the origin
      // itself (nothing is forwarded anywhere).
      proxy = createServer((req, res) => {
        asked.push({ method: req.method!, url: req.url!, headers: req.headers });
        if (req.url === 'http://www.example.test/down') res.writeHead(502).end();
        else res.end('proxied OK');
      });
      pp = await listen(proxy, PROXY);
    });
    after(() => closeServer(proxy));

    it('sends the absolute URL to the real server as a proxy', async () => {
      const r = await runProbe(
        spec({
          url: 'http://www.example.test/health?x=1',
          hostHeader: null,
          proxy: `http://${PROXY}:${pp}/`,
          receive: compileReceive('OK'),
        }),
      );
      assert.deepEqual([r.up, r.reason], [true, 'HTTP 200 OK']);
      assert.equal(asked[0]!.url, 'http://www.example.test/health?x=1');
      assert.equal(asked[0]!.headers.host, 'www.example.test');
    });

    it('is down when the proxy answers an error', async () => {
      const r = await runProbe(
        spec({ url: 'http://www.example.test/down', hostHeader: null, proxy: `http://${PROXY}:${pp}/` }),
      );
      assert.deepEqual([r.up, r.reason], [false, 'HTTP 502 Bad Gateway']);
    });

    it('is down with connect ECONNREFUSED when the proxy is not there', async () => {
      const p = await closedPort(PROXY);
      const r = await runProbe(
        spec({ url: 'http://www.example.test/', hostHeader: null, proxy: `http://${PROXY}:${p}/` }),
      );
      assert.deepEqual([r.up, r.reason], [false, 'connect ECONNREFUSED']);
    });
  });

  describe('IPv6', () => {
    let v6: HttpServer;
    let p6: number;
    before(async function () {
      v6 = createServer((req, res) => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers });
        res.end('six');
      });
      try {
        p6 = await listen(v6, '::1');
      } catch (e) {
        requirePart(this, `cannot listen on ::1 (${(e as Error).message})`);
      }
    });
    after(() => closeServer(v6));

    it('checks a bracketed IPv6 URL with a bracketed Host header', async () => {
      seen.length = 0;
      const r = await runProbe(
        spec({ url: `http://[::1]:${p6}/`, hostHeader: '[::1]', receive: compileReceive('six') }),
      );
      assert.deepEqual([r.up, r.reason], [true, 'HTTP 200 OK']);
      assert.equal(seen[0]!.headers.host, '[::1]');
    });
  });

  it('runs 200 checks (200 probes) at once, all up, and leaves no connection open', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        runProbe(spec({ url: `http://${H}:${port}/ok`, receive: compileReceive('OK') })),
      ),
    );
    assert.equal(results.filter((r) => r.up).length, 200);
    assert.ok(await eventually(() => open.size === 0, 10000), `${open.size} connections still open`);
  });
});
