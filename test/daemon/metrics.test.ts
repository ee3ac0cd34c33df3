/** The opt-in Prometheus endpoint of a running daemon (issue 5, item 5). */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { Director } from '../helpers/director';
import { scrapeMetrics as scrape } from '../helpers/net';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function ask(port: number, method: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, method }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    })
      .on('error', reject)
      .end();
  });
}

describe('metrics endpoint', function () {
  this.timeout(60000);
  let d: Director;
  before(async () => {
    d = new Director();
    await d.listen('127.50.5.2', 8080);
    await d.listen('127.50.5.3', 8080);
  });
  after(() => d.cleanup());

  it('serves per-real health and weight, transitions, checks, reconciles and loop lag', async () => {
    const port = await freePort();
    d.config(`
checkinterval=1
checktimeout=1
virtual=10.0.0.1:80
	real=127.50.5.2:8080 masq 2
	real=127.50.5.3:8080 masq 3
	checktype=connect
`);
    assert.equal((await d.cli(['--metrics', String(port), d.cfg, 'start'])).code, 0);
    await d.waitTable(
      '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 127.50.5.2:8080 -m -w 2\n-a -t 10.0.0.1:80 -r 127.50.5.3:8080 -m -w 3\n',
    );
    const text = await d.waitFor('weights in the metrics', async () => {
      const t = await scrape(port);
      return t.includes('ldirectord_real_weight{virtual="tcp:10.0.0.1:80",real="127.50.5.3:8080"} 3') ? t : false;
    });
    assert.match(text, /^ldirectord_real_up\{virtual="tcp:10\.0\.0\.1:80",real="127\.50\.5\.2:8080"\} 1$/m);
    assert.match(text, /^ldirectord_checks_total\{result="up"\} [1-9]\d*$/m);
    assert.match(text, /^ldirectord_reconciles_total [1-9]\d*$/m);
    assert.match(text, /^ldirectord_event_loop_lag_seconds \d/m);
    assert.match(text, /^# TYPE ldirectord_real_transitions_total counter$/m);
    await d.close('127.50.5.3', 8080);
    const after = await d.waitFor('the transition in the metrics', async () => {
      const t = await scrape(port);
      return /ldirectord_real_transitions_total\{virtual="tcp:10\.0\.0\.1:80",real="127\.50\.5\.3:8080",to="down"\} 1/.test(
        t,
      ) && /ldirectord_real_weight\{[^}]*127\.50\.5\.3:8080"\} -1/.test(t)
        ? t
        : false;
    });
    assert.match(after, /^ldirectord_real_up\{virtual="tcp:10\.0\.0\.1:80",real="127\.50\.5\.3:8080"\} 0$/m);
    assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
  });

  it('answers only GET /metrics, caps its connections and closes idle ones', async () => {
    const port = await freePort();
    d.config(`
checkinterval=1
virtual=10.0.0.1:80
	real=127.50.5.2:8080 masq 2
	checktype=connect
`);
    assert.equal((await d.cli(['--metrics', String(port), d.cfg, 'start'])).code, 0);
    await d.waitFor('the endpoint', () => scrape(port).then(() => true));
    assert.equal(await ask(port, 'GET', '/metrics'), 200);
    assert.equal(await ask(port, 'GET', '/metrics?x=1'), 200);
    assert.equal(await ask(port, 'HEAD', '/metrics'), 200);
    assert.equal(await ask(port, 'GET', '/'), 404);
    assert.equal(await ask(port, 'GET', '/../etc/passwd'), 404);
    assert.equal(await ask(port, 'POST', '/metrics'), 405);
    assert.equal(await ask(port, 'DELETE', '/metrics'), 405);
    // 200 idle connections: at most 32 are kept, the rest are closed at once.
    const socks: Socket[] = [];
    let open = 0;
    await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<void>((r) => {
            const s = connect(port, '127.0.0.1', () => {
              open++;
              r();
            });
            s.on('close', () => open--);
            s.on('error', () => r());
            socks.push(s);
          }),
      ),
    );
    await d.waitFor('the excess closed', () => open <= 32, 5000);
    // Those left idle are closed by the server after its idle timeout (10 s).
    await d.waitFor('the idle ones closed', () => open === 0, 20000);
    assert.equal(await ask(port, 'GET', '/metrics'), 200, 'still serving');
    for (const s of socks) s.destroy();
    assert.equal((await d.cli([d.cfg, 'stop'])).code, 0);
  });
});
