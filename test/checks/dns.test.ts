/**
 * service=dns: the question rules compared with Perl's own Net::DNS, then the check
 * against a real dnsmasq started for this file (no mocks), over UDP and TCP, IPv4 and
 * IPv6. Semantics from Perl check_dns: up when an A address or PTR name in the answer
 * matches receive; an empty receive is always down.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { runProbe } from '../../src/checks/run';
import { timeoutReason } from '../../src/checks/kernel';
import { dns as dnsKind, questionFor, resolverSearchConfig, reverseName, searchNames } from '../../src/checks/dns';
import { compileReceive } from '../../src/checks/receive';
import type { DnsSpec } from '../../src/checks/dns';
import { requirePart, which } from '../helpers/env';
import { ADDR, freePort, openSockets, settle, tempDir } from '../helpers/throwaway';
import { BIG_ADDRESSES, BIG_NAME, missingDnsmasq, startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq';
import { specFromConfig } from '../helpers/spec-from-cf';
import { missingPerlChecks, perlCheck } from '../helpers/perl-oracle';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function missingNetDns(): string | null {
  if (!which('perl')) return 'perl is not installed';
  const r = spawnSync('perl', ['-MNet::DNS', '-e', '1']);
  return r.status === 0
    ? null
    : 'Perl Net::DNS is not installed (apt-get install libnet-dns-perl, a dependency of ldirectord)';
}

/** Run a Perl snippet with Net::DNS; each argument on its own line of stdin. */
function perl(code: string, lines: string[]): string[] {
  const r = spawnSync('perl', ['-MNet::DNS', '-e', code], { input: lines.join('\n') + '\n', encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`perl failed: ${r.stderr}`);
  return r.stdout.split('\n').slice(0, lines.length);
}

describe('checks: dns question rules (compared with Net::DNS)', function () {
  this.timeout(20000);
  before(function () {
    requirePart(this, missingNetDns());
  });

  it('IP addresses become PTR questions of their reverse name, names A questions, as Net::DNS::Question', () => {
    const inputs = [
      '127.30.9.9',
      '10.1',
      '10.1.2',
      '192.0.2.0/24',
      '::1',
      '2001:db8::17',
      '2001:db8:0:0:1:0:0:1',
      'fe80::1%eth0',
      '::ffff:192.0.2.7',
      '2001:db8::/32',
      'www.example.test',
      'host1',
      'example.test.',
      'cafe',
      '12345',
    ];
    const perlOut = perl(
      'while (<STDIN>) { chomp; my $q = Net::DNS::Question->new($_); print $q->qtype, " ", $q->qname, "\\n"; }',
      inputs,
    );
    const ours = inputs.map((i) => {
      const q = questionFor(i);
      return `${q.type} ${q.name}`;
    });
    assert.deepEqual(ours, perlOut);
  });

  it('search() asks the names Net::DNS asks, in its order', () => {
    const cases: Array<[string, string[], number]> = [
      ['www.example.test', ['corp.test', 'lab.test'], 1],
      ['www', ['corp.test', 'lab.test'], 1],
      ['www', [], 1],
      ['www.example', ['corp.test'], 2],
      ['127.30.9.9', ['corp.test'], 1],
      ['example.test.', ['corp.test'], 1],
      ['::1', ['corp.test'], 1],
      ['', ['corp.test'], 1],
    ];
    for (const [name, list, ndots] of cases) {
      const code = [
        'my @asked;',
        'no warnings "redefine";',
        '*Net::DNS::Resolver::Base::send = sub { push @asked, $_[1]; return undef };',
        'my ($name, $list, $ndots) = map { chomp; $_ } <STDIN>;',
        'my $res = Net::DNS::Resolver->new(searchlist => [split / /, $list], ndots => $ndots);',
        '$res->search($name);',
        'print join(" ", @asked), "\\n";',
      ].join(' ');
      const [asked] = perl(code, [name, list.join(' '), String(ndots)]);
      assert.deepEqual(
        searchNames(name, list, ndots).join(' '),
        asked,
        `search(${name}) with [${list}] ndots ${ndots}`,
      );
    }
  });
});

describe('checks: dns resolver configuration', () => {
  it('reads domain, search and ndots from resolv.conf, then LOCALDOMAIN and RES_OPTIONS', async () => {
    const dir = tempDir('resolvconf');
    try {
      const file = join(dir, 'resolv.conf');
      writeFileSync(
        file,
        'nameserver 192.0.2.53\ndomain one.test\nsearch two.test three.test # comment\noptions ndots:2 timeout:1\n',
      );
      assert.deepEqual(await resolverSearchConfig(file, {}), { searchlist: ['two.test', 'three.test'], ndots: 2 });
      assert.deepEqual(await resolverSearchConfig(file, { LOCALDOMAIN: 'env.test', RES_OPTIONS: 'ndots:3' }), {
        searchlist: ['env.test'],
        ndots: 3,
      });
      writeFileSync(file, 'domain only.test\n');
      assert.deepEqual(await resolverSearchConfig(file, {}), { searchlist: ['only.test'], ndots: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reverseName returns null for what is not an address', () => {
    assert.equal(reverseName('www.example.test'), null);
    assert.equal(reverseName('127.30.9.9'), '9.9.30.127.in-addr.arpa');
  });
});

describe('checks: dns (real dnsmasq)', function () {
  this.timeout(30000);
  let dns: Dnsmasq | undefined;

  before(async function () {
    requirePart(this, missingDnsmasq());
    dns = await startDnsmasq();
  });
  after(async () => {
    await dns?.dispose();
  });

  const spec = (o: Partial<DnsSpec> = {}): DnsSpec => ({
    kind: 'dns',
    host: dns!.host,
    port: dns!.port,
    tcp: false,
    query: 'www.example.test',
    receive: compileReceive('127.30.9.9'),
    timeoutMs: 5000,
    ...o,
  });

  for (const tcp of [false, true]) {
    const via = tcp ? 'TCP' : 'UDP';
    // (Plain its, not a nested describe: mocha would run those after the stop test below.)
    it(`${via}: an A record matching receive is up`, async () => {
      const r = await runProbe(spec({ tcp }));
      assert.deepEqual([r.up, r.reason], [true, 'Success']);
    });

    it(`${via}: an A record not matching receive is down with Response mismatch`, async () => {
      const r = await runProbe(spec({ tcp, receive: compileReceive('^10\\.') }));
      assert.deepEqual([r.up, r.reason], [false, 'Response mismatch']);
    });

    it(`${via}: an IP address as query is a PTR lookup, up when the name matches`, async () => {
      const r = await runProbe(spec({ tcp, query: '127.30.9.25', receive: compileReceive('^mail\\.example\\.test$') }));
      assert.deepEqual([r.up, r.reason], [true, 'Success']);
    });

    it(`${via}: an empty receive is always down, as in Perl`, async () => {
      const r = await runProbe(spec({ tcp, receive: null }));
      assert.equal(r.up, false);
      assert.match(r.reason, /^Response mismatch \(receive is empty/);
    });

    it(`${via}: an unknown name is down with No answer received (NXDOMAIN)`, async () => {
      const r = await runProbe(spec({ tcp, query: 'nx.example.test' }));
      assert.deepEqual([r.up, r.reason], [false, 'No answer received (NXDOMAIN for A nx.example.test)']);
    });

    it(`${via}: works with ::1 as the nameserver`, async () => {
      const r = await runProbe(spec({ tcp, host: '::1' }));
      assert.deepEqual([r.up, r.reason], [true, 'Success']);
    });
  }

  it('a UDP answer too big for 512 bytes (truncated) is asked again over TCP, as Net::DNS does', async () => {
    const last = BIG_ADDRESSES[BIG_ADDRESSES.length - 1];
    const r = await runProbe(spec({ query: BIG_NAME, receive: compileReceive(`^${last.replace(/\./g, '\\.')}$`) }));
    assert.deepEqual([r.up, r.reason], [true, 'Success']);
    // dnsmasq logs each question: one over UDP, then the same one over TCP (a forked child).
    const asked = readFileSync(join(dns!.dir, 'dnsmasq.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes(`query[A] ${BIG_NAME} `));
    assert.equal(asked.length, 2);
  });

  it('from ldirectord.cf: a tcp virtual asks over TCP, the request without its "/" is the query', async () => {
    const cf = [
      'virtual=127.30.2.100:53',
      `\treal=${dns!.host}:${dns!.port} gate`,
      '\tservice=dns',
      '\tprotocol=tcp',
      '\tchecktype=negotiate',
      '\tnegotiatetimeout=5',
      '\trequest="/mail.example.test"',
      '\treceive="127\\.30\\.9\\.25"',
      '',
    ].join('\n');
    const s = await specFromConfig('dns', cf);
    assert.deepEqual([s.tcp, s.query], [true, 'mail.example.test']);
    const r = await runProbe(s);
    assert.deepEqual([r.up, r.reason], [true, 'Success']);
    const udp = await specFromConfig('dns', cf.replace('protocol=tcp', 'protocol=udp'));
    assert.equal(udp.tcp, false);
    assert.deepEqual((await runProbe(udp)).up, true);
  });

  it("agrees with Perl's check_dns (same config, same server) on up/down and reason", async function () {
    this.timeout(180000); // one Perl process per case; slow on a loaded machine
    requirePart(this, missingPerlChecks());
    const cf = (o: { protocol?: 'tcp' | 'udp'; port?: number; request: string; receive?: string; timeout?: number }) =>
      [
        'virtual=127.30.2.100:53',
        `\treal=${dns!.host}:${o.port ?? dns!.port} gate`,
        '\tservice=dns',
        `\tprotocol=${o.protocol ?? 'udp'}`,
        '\tchecktype=negotiate',
        `\tnegotiatetimeout=${o.timeout ?? 5}`,
        `\trequest="${o.request}"`,
        ...(o.receive !== undefined ? [`\treceive="${o.receive}"`] : []),
        '',
      ].join('\n');
    const nobodyPort = await freePort([
      ['udp', dns!.host],
      ['tcp', dns!.host],
    ]);
    const cases: Record<string, string> = {};
    for (const protocol of ['udp', 'tcp'] as const) {
      Object.assign(cases, {
        [`${protocol}: A matches`]: cf({ protocol, request: '/www.example.test', receive: '127\\.30\\.9\\.9' }),
        [`${protocol}: A does not match`]: cf({ protocol, request: '/www.example.test', receive: '^10\\.' }),
        [`${protocol}: PTR matches`]: cf({ protocol, request: '/127.30.9.25', receive: 'mail' }),
        [`${protocol}: PTR does not match`]: cf({ protocol, request: '127.30.9.25', receive: 'www' }),
        [`${protocol}: empty receive`]: cf({ protocol, request: '/www.example.test' }),
        [`${protocol}: NXDOMAIN`]: cf({ protocol, request: '/nx.example.test', receive: '.' }),
        [`${protocol}: truncated answer`]: cf({
          protocol,
          request: `/${BIG_NAME}`,
          receive: `${BIG_ADDRESSES[BIG_ADDRESSES.length - 1]}$`,
        }),
      });
    }
    cases['tcp: nothing listening'] = cf({
      protocol: 'tcp',
      port: nobodyPort,
      request: '/www.example.test',
      receive: '.',
    });
    // (Perl's Net::DNS ignores the ICMP error and waits for its alarm; we stop at the error.)
    cases['udp: nothing listening'] = cf({
      protocol: 'udp',
      port: nobodyPort,
      request: '/www.example.test',
      receive: '.',
      timeout: 1,
    });
    // Perl says "Connection timed out" for every failure that is not a mismatch.
    const perlWords = (reason: string) =>
      reason === 'Success' || reason.startsWith('Response mismatch')
        ? reason.replace(/ \(.*\)$/s, '')
        : 'Connection timed out';
    for (const [name, text] of Object.entries(cases)) {
      const perl = await perlCheck(text);
      const ours = await runProbe(await specFromConfig('dns', text));
      assert.deepEqual(
        [ours.up, perlWords(ours.reason)],
        [perl.up, perl.reason],
        `${name}: ours ${JSON.stringify(ours)}, Perl ${JSON.stringify(perl)}`,
      );
    }
  });

  it('leaves no socket open after a check', async () => {
    await settle();
    const before = openSockets();
    await runProbe(spec());
    await runProbe(spec({ tcp: true }));
    await runProbe(spec({ query: 'nx.example.test' }));
    await settle();
    assert.equal(openSockets(), before);
  });

  it('a silent server (SIGSTOP) ends at the deadline, UDP and TCP, and the socket is torn down', async () => {
    await settle();
    const before = openSockets();
    await dns!.freeze();
    try {
      for (const tcp of [false, true]) {
        const s = spec({ tcp, timeoutMs: 1200 });
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(new Error(timeoutReason(s.timeoutMs))), s.timeoutMs);
        // The check itself (not the runner's backstop) must answer the abort.
        const r = await dnsKind.run(s, { signal: ac.signal });
        clearTimeout(timer);
        assert.deepEqual([r.up, r.reason], [false, timeoutReason(1200)]);
      }
    } finally {
      dns!.thaw();
    }
    await settle();
    assert.equal(openSockets(), before);
  });

  it('a port with nothing listening is down with the socket error', async () => {
    const port = await freePort([
      ['udp', ADDR.nobody],
      ['tcp', ADDR.nobody],
    ]);
    const udp = await runProbe(spec({ host: ADDR.nobody, port }));
    assert.deepEqual([udp.up, udp.reason], [false, 'recvmsg ECONNREFUSED']);
    const tcp = await runProbe(spec({ host: ADDR.nobody, port, tcp: true }));
    assert.deepEqual([tcp.up, tcp.reason], [false, 'connect ECONNREFUSED']);
  });

  it('is down once the server is stopped', async () => {
    await dns!.stop();
    const udp = await runProbe(spec());
    assert.deepEqual([udp.up, udp.reason], [false, 'recvmsg ECONNREFUSED']);
    const tcp = await runProbe(spec({ tcp: true }));
    assert.deepEqual([tcp.up, tcp.reason], [false, 'connect ECONNREFUSED']);
  });
});
