/**
 * The spec builder (src/checks/target.ts) against the Perl rules: ld_setup's URL
 * building (spec §3.6), ld_checkport, _check_real's dispatch and the timeouts. Virtual
 * services come from small config texts through the real parser, with a fixed resolver
 * (no DNS, no /etc/services).
 */
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/parser/read-config';
import { parseServices, servicesLookup, type Resolver } from '../../src/parser/resolve';
import { negotiateSpec, watchFor, type Watch } from '../../src/schedule/target';
import type { ExternalSpec } from '../../src/checks/external';
import type { HttpSpec } from '../../src/checks/http';
import type { PingSpec } from '../../src/checks/ping';
import type { ProbeSpec } from '../../src/checks/registry';
import type { SqlSpec } from '../../src/checks/sql';

const SERVICES = servicesLookup(
  parseServices(
    [
      'http 80/tcp www',
      'https 443/tcp',
      'domain 53/udp',
      'domain 53/tcp',
      'mysql 3306/tcp',
      'squid 3128/tcp',
      'postgresql 5432/tcp',
    ].join('\n'),
  ),
);
const HOSTS: Record<string, { 4?: string; 6?: string }> = {
  'web1.test': { 4: '10.1.0.1' },
  'www.example.com': { 4: '10.9.9.9' },
};

const resolver: Resolver = {
  async host(name, family) {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return family === 4 ? name : null;
    if (name.includes(':')) return family === 6 ? name : null;
    return HOSTS[name]?.[family] ?? null;
  },
  service: SERVICES,
};

/** Every (virtual, real) watch of a config text, keyed `<virtual id> <real address>:<real port>`. */
async function watches(text: string): Promise<Map<string, Watch>> {
  const cfg = await parseConfig(text, 'test.cf', { resolver, hostname: 'director.test', checkFiles: false });
  const out = new Map<string, Watch>();
  for (const v of cfg.virtuals) for (const r of v.reals) out.set(`${v.id} ${r.address}:${r.port}`, watchFor(v, r));
  return out;
}

function probe(w: Watch | undefined): ProbeSpec {
  assert.ok(w && w.mode === 'probe', `expected a probe, got ${JSON.stringify(w)}`);
  return w.spec;
}

const http = (w: Watch | undefined) => {
  const s = probe(w);
  assert.equal(s.kind, 'http');
  return s as HttpSpec;
};

const lines = (...l: string[]) => l.join('\n') + '\n';

describe('checks: spec builder (Perl ld_setup / ld_checkport / _check_real)', () => {
  describe('HTTP URLs (spec §3.6)', () => {
    it('builds <schema>://<real>:<checkport>/<request without leading slash>', async () => {
      const w = await watches(
        lines(
          'virtual=10.0.0.1:80',
          '\treal=10.1.0.1:8080 masq',
          '\tservice=http',
          '\trequest="/health/check.html"',
          '\treceive="alive"',
          '\tchecktype=negotiate',
        ),
      );
      const s = http(w.get('tcp:10.0.0.1:80 10.1.0.1:8080'));
      assert.equal(s.url, 'http://10.1.0.1:8080/health/check.html');
      assert.equal(s.method, 'GET');
      assert.equal(s.hostHeader, '10.1.0.1');
      assert.equal(s.proxy, null);
      assert.ok(s.receive!.test('I am alive'));
      assert.equal(s.timeoutMs, 30_000, 'negotiate checks use negotiatetimeout (default 30)');
    });

    it('uses the virtualhost as the Host header, and httpmethod', async () => {
      const w = await watches(
        lines(
          'virtual=10.0.0.1:80',
          '\treal=10.1.0.1:80 gate',
          '\tservice=http',
          '\tvirtualhost=www.example.com',
          '\thttpmethod=HEAD',
          '\tnegotiatetimeout=4',
        ),
      );
      const s = http(w.get('tcp:10.0.0.1:80 10.1.0.1:80'));
      assert.equal(s.hostHeader, 'www.example.com');
      assert.equal(s.method, 'HEAD');
      assert.equal(s.timeoutMs, 4000);
      assert.equal(s.receive, null, 'no receive: any 2xx is up');
    });

    it('https uses the https schema and the checkport', async () => {
      const w = await watches(
        lines(
          'virtual=10.0.0.1:443',
          '\treal=10.1.0.1:443 gate',
          '\tservice=https',
          '\tcheckport=8443',
          '\trequest="/"',
        ),
      );
      assert.equal(http(w.get('tcp:10.0.0.1:443 10.1.0.1:443')).url, 'https://10.1.0.1:8443/');
    });

    it('a per-real "request", "receive" replaces the virtual ones for that real only', async () => {
      const w = await watches(
        lines(
          'virtual=10.0.0.1:80',
          '\treal=10.1.0.1:80 gate "status.html", "GOOD"',
          '\treal=10.1.0.2:80 gate',
          '\tservice=http',
          '\trequest="/index.html"',
          '\treceive="Welcome"',
        ),
      );
      const own = http(w.get('tcp:10.0.0.1:80 10.1.0.1:80'));
      assert.equal(own.url, 'http://10.1.0.1:80/status.html');
      assert.ok(own.receive!.test('GOOD') && !own.receive!.test('Welcome'));
      const dflt = http(w.get('tcp:10.0.0.1:80 10.1.0.2:80'));
      assert.equal(dflt.url, 'http://10.1.0.2:80/index.html');
      assert.ok(dflt.receive!.test('Welcome'));
    });

    it('a per-real request with a leading slash keeps its receive (W-3 fixed)', async () => {
      const w = await watches(
        lines(
          'virtual=10.0.0.1:80',
          '\treal=10.1.0.1:80 gate "/own.html", "MINE"',
          '\tservice=http',
          '\trequest="/index.html"',
          '\treceive="Welcome"',
        ),
      );
      const s = http(w.get('tcp:10.0.0.1:80 10.1.0.1:80'));
      assert.equal(s.url, 'http://10.1.0.1:80/own.html');
      assert.ok(s.receive!.test('MINE'));
    });

    it('a per-real absolute URL is used as is', async () => {
      const w = await watches(
        lines(
          'virtual=10.0.0.1:80',
          '\treal=10.1.0.1:80 gate "http://status.example.test:8000/ping?x=1", "pong"',
          '\tservice=http',
        ),
      );
      assert.equal(http(w.get('tcp:10.0.0.1:80 10.1.0.1:80')).url, 'http://status.example.test:8000/ping?x=1');
    });

    it('a virtual request that looks like a URL is still a path (only http_proxy takes it whole)', async () => {
      const w = await watches(
        lines('virtual=10.0.0.1:80', '\treal=10.1.0.1:80 gate', '\tservice=http', '\trequest="http://elsewhere.test/"'),
      );
      assert.equal(http(w.get('tcp:10.0.0.1:80 10.1.0.1:80')).url, 'http://10.1.0.1:80/http://elsewhere.test/');
    });

    it('http_proxy: the virtual request is the absolute URL, the real is the proxy, no Host override', async () => {
      const w = await watches(
        lines(
          'virtual=10.0.0.1:3128',
          '\treal=10.1.0.1:3128 gate',
          '\treal=10.1.0.2:3128 gate "health", "OK"',
          '\treal=10.1.0.3:3128 gate "http://abs.test/p", "OK"',
          '\tservice=http_proxy',
          '\trequest="http://www.example.com/probe"',
          '\treceive="It works"',
        ),
      );
      const s = http(w.get('tcp:10.0.0.1:3128 10.1.0.1:3128'));
      assert.equal(s.url, 'http://www.example.com/probe');
      assert.equal(s.proxy, 'http://10.1.0.1:3128/');
      assert.equal(s.hostHeader, null);
      // Per-real override without a schema: a URL on the real itself, still through it as a proxy.
      const own = http(w.get('tcp:10.0.0.1:3128 10.1.0.2:3128'));
      assert.equal(own.url, 'http://10.1.0.2:3128/health');
      assert.equal(own.proxy, 'http://10.1.0.2:3128/');
      const abs = http(w.get('tcp:10.0.0.1:3128 10.1.0.3:3128'));
      assert.equal(abs.url, 'http://abs.test/p');
    });

    it('port 3128 defaults to service http_proxy', async () => {
      const w = await watches(
        lines('virtual=10.0.0.1:3128', '\treal=10.1.0.1:3128 gate', '\trequest="http://www.example.com/"'),
      );
      assert.equal(http(w.get('tcp:10.0.0.1:3128 10.1.0.1:3128')).proxy, 'http://10.1.0.1:3128/');
    });

    it('IPv6 reals are bracketed in the URL and the Host header', async () => {
      const w = await watches(
        lines('virtual6=[2001:db8::1]:80', '\treal6=[2001:db8::10]:8080 masq', '\tservice=http', '\trequest="/hc"'),
      );
      const s = http(w.get('tcp:[2001:db8::1]:80 2001:db8::10:8080'));
      assert.equal(s.url, 'http://[2001:db8::10]:8080/hc');
      assert.equal(s.hostHeader, '[2001:db8::10]');
    });
  });

  describe('check port (ld_checkport)', () => {
    it('checkport, else the real port, else the service default port', async () => {
      const w = await watches(
        lines(
          'virtual=10.0.0.1:80',
          '\treal=10.1.0.1:8080 gate',
          '\tservice=http',
          '',
          'virtual=10.0.0.2:80',
          '\treal=10.1.0.2:8080 gate',
          '\tservice=http',
          '\tcheckport=9000',
          '',
          'virtual=7',
          '\treal=10.1.0.3 gate',
          '\tservice=mysql',
          '\tlogin="u"',
          '\tpasswd="p"',
          '\tdatabase="d"',
          '\trequest="SELECT 1"',
        ),
      );
      assert.equal(http(w.get('tcp:10.0.0.1:80 10.1.0.1:8080')).url, 'http://10.1.0.1:8080/');
      assert.equal(http(w.get('tcp:10.0.0.2:80 10.1.0.2:8080')).url, 'http://10.1.0.2:9000/');
      const sql = probe(w.get('fwm:7 10.1.0.3:0')) as SqlSpec;
      assert.deepEqual(sql, {
        kind: 'sql',
        engine: 'mysql',
        host: '10.1.0.3',
        port: 3306,
        user: 'u',
        password: 'p',
        database: 'd',
        query: 'SELECT 1',
        timeoutMs: 30_000,
      });
    });

    it('connect checks use the check port and checktimeout', async () => {
      const w = await watches(
        lines('checktimeout=3', 'virtual=10.0.0.1:80', '\treal=10.1.0.1 gate', '\tchecktype=connect', '\tcheckport=81'),
      );
      assert.deepEqual(probe(w.get('tcp:10.0.0.1:80 10.1.0.1:0')), {
        kind: 'connect',
        host: '10.1.0.1',
        port: 81,
        timeoutMs: 3000,
      });
    });

    it('a real without a port on a TCP virtual is checked on the service default port', async () => {
      const w = await watches(lines('virtual=10.0.0.1:443', '\treal=10.1.0.1 gate', '\tchecktype=connect'));
      assert.equal((probe(w.get('tcp:10.0.0.1:443 10.1.0.1:0')) as { port: number }).port, 443);
    });
  });

  describe('SQL', () => {
    it('pgsql: login, password, database and the request without its slash; a per-real request wins', async () => {
      // (No digit after a space in that per-real query: Perl, and so the parser, would take
      // it for the weight.)
      const w = await watches(
        lines(
          'virtual=10.0.0.1:5432',
          '\treal=10.1.0.1:5432 gate',
          '\treal=10.1.0.2:5432 gate "SELECT id FROM t", "x"',
          '\tservice=pgsql',
          '\tlogin="check"',
          '\tpasswd="pw"',
          '\tdatabase="app"',
          '\trequest="SELECT 1 FROM t"',
        ),
      );
      assert.deepEqual(probe(w.get('tcp:10.0.0.1:5432 10.1.0.1:5432')), {
        kind: 'sql',
        engine: 'pgsql',
        host: '10.1.0.1',
        port: 5432,
        user: 'check',
        password: 'pw',
        database: 'app',
        query: 'SELECT 1 FROM t',
        timeoutMs: 30_000,
      });
      assert.equal((probe(w.get('tcp:10.0.0.1:5432 10.1.0.2:5432')) as SqlSpec).query, 'SELECT id FROM t');
    });
  });

  describe('external checks', () => {
    it('args are vip vport rip rport', async () => {
      const w = await watches(
        lines(
          'virtual=10.0.0.1:80',
          '\treal=10.1.0.1:8080 gate',
          '\tchecktype=external',
          '\tcheckcommand="/usr/local/bin/check web"',
          '\tchecktimeout=7',
        ),
      );
      assert.deepEqual(probe(w.get('tcp:10.0.0.1:80 10.1.0.1:8080')), {
        kind: 'external',
        command: '/usr/local/bin/check web',
        args: ['10.0.0.1', '80', '10.1.0.1', '8080'],
        interpreter: null,
        timeoutMs: 7000,
      } satisfies ExternalSpec);
    });

    it('fwmark: the mark as vip and 0 as vport; a real without a port gets 0', async () => {
      const w = await watches(
        lines('virtual=42', '\treal=10.1.0.1 gate', '\tchecktype=external', '\tcheckcommand=/bin/true'),
      );
      assert.deepEqual((probe(w.get('fwm:42 10.1.0.1:0')) as ExternalSpec).args, ['42', '0', '10.1.0.1', '0']);
    });

    it('IPv6 addresses in brackets; external-perl runs the file with perl', async () => {
      const w = await watches(
        lines(
          'virtual6=[2001:db8::1]:53',
          '\treal6=[2001:db8::10]:5353 masq',
          '\tprotocol=udp',
          '\tchecktype=external-perl',
          '\tcheckcommand=/etc/ha.d/check.pl',
        ),
      );
      const s = probe(w.get('udp:[2001:db8::1]:53 2001:db8::10:5353')) as ExternalSpec;
      assert.deepEqual(s.args, ['[2001:db8::1]', '53', '[2001:db8::10]', '5353']);
      assert.equal(s.interpreter, 'perl');
      assert.equal(s.command, '/etc/ha.d/check.pl');
    });
  });

  describe('dispatch (_check_real)', () => {
    it('checktype=connect on a UDP virtual is a ping, with checkcount attempts of checktimeout each', async () => {
      const w = await watches(
        lines(
          'virtual=10.0.0.1:53',
          '\treal=10.1.0.1:53 gate',
          '\tprotocol=udp',
          '\tchecktype=connect',
          '\tchecktimeout=2',
          '\tcheckcount=3',
        ),
      );
      assert.deepEqual(probe(w.get('udp:10.0.0.1:53 10.1.0.1:53')), {
        kind: 'ping',
        host: '10.1.0.1',
        ipv6: false,
        count: 3,
        timeoutMs: 6000,
      } satisfies PingSpec);
    });

    it('checktype=ping on IPv6', async () => {
      const w = await watches(lines('virtual6=[2001:db8::1]:80', '\treal6=[2001:db8::10]:80 gate', '\tchecktype=ping'));
      assert.deepEqual(probe(w.get('tcp:[2001:db8::1]:80 2001:db8::10:80')), {
        kind: 'ping',
        host: '2001:db8::10',
        ipv6: true,
        count: 1,
        timeoutMs: 5000,
      } satisfies PingSpec);
    });

    it('checktype=N: N connect checks (checktimeout) between negotiate checks (negotiatetimeout)', async () => {
      const w = await watches(
        lines(
          'virtual=10.0.0.1:80',
          '\treal=10.1.0.1:80 gate',
          '\tservice=http',
          '\tchecktype=3',
          '\tchecktimeout=2',
          '\tnegotiatetimeout=9',
        ),
      );
      const c = w.get('tcp:10.0.0.1:80 10.1.0.1:80');
      assert.ok(c && c.mode === 'combined');
      assert.equal(c.every, 3);
      assert.deepEqual(c.connect, { kind: 'connect', host: '10.1.0.1', port: 80, timeoutMs: 2000, udp: false });
      assert.equal(c.negotiate.kind, 'http');
      assert.equal(c.negotiate.timeoutMs, 9000);
    });

    it('checktype=N on a UDP virtual connects a datagram socket', async () => {
      const w = await watches(
        lines(
          'virtual=10.0.0.1:53',
          '\treal=10.1.0.1:53 gate',
          '\tprotocol=udp',
          '\tservice=dns',
          '\trequest="a.test"',
          '\treceive="10.0.0.1"',
          '\tchecktype=2',
        ),
      );
      const c = w.get('udp:10.0.0.1:53 10.1.0.1:53');
      assert.ok(c && c.mode === 'combined');
      assert.equal((c.connect as { udp?: boolean }).udp, true);
      assert.equal(c.negotiate.kind, 'dns');
    });

    it('checktype=on and off are not probes; service none negotiates to "none"', async () => {
      const w = await watches(
        lines(
          'virtual=10.0.0.1:81',
          '\treal=10.1.0.1:81 gate',
          '\tchecktype=on',
          '',
          'virtual=10.0.0.2:81',
          '\treal=10.1.0.2:81 gate',
          '\tchecktype=off',
          '',
          'virtual=10.0.0.3:81',
          '\treal=10.1.0.3:81 gate',
          '\tchecktype=negotiate',
        ),
      );
      assert.deepEqual(w.get('tcp:10.0.0.1:81 10.1.0.1:81'), { mode: 'on' });
      assert.deepEqual(w.get('tcp:10.0.0.2:81 10.1.0.2:81'), { mode: 'off' });
      assert.equal(probe(w.get('tcp:10.0.0.3:81 10.1.0.3:81')).kind, 'none');
    });

    it('the timeouts are mutual defaults (a virtual negotiatetimeout beats the global checktimeout)', async () => {
      const w = await watches(
        lines(
          'checktimeout=10',
          'virtual=10.0.0.1:80',
          '\treal=10.1.0.1:80 gate',
          '\tchecktype=connect',
          '\tnegotiatetimeout=3',
        ),
      );
      assert.equal(probe(w.get('tcp:10.0.0.1:80 10.1.0.1:80')).timeoutMs, 3000);
    });

    it('negotiateSpec is what a negotiate watch probes', async () => {
      const cfg = await parseConfig(lines('virtual=10.0.0.1:80', '\treal=10.1.0.1:80 gate', '\tservice=http'), 't.cf', {
        resolver,
        hostname: 'h',
        checkFiles: false,
      });
      const v = cfg.virtuals[0]!;
      assert.deepEqual(JSON.stringify(negotiateSpec(v, v.reals[0]!)), JSON.stringify(probe(watchFor(v, v.reals[0]!))));
    });
  });
});
