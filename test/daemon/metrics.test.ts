/** The opt-in Prometheus endpoint of a running daemon (issue 5, item 5). */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { Director } from '../helpers/director';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (b) => (body += b));
      res.on('end', () => resolve(body));
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
});
