/**
 * service=sip: the OPTIONS request Perl's check_sip builds, sent to real SIPp user agent
 * servers started for this file (no mocks), over UDP and TCP, IPv4 and IPv6. Up when the
 * first reply line matches ^SIP/2.0 200 OK.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runProbe } from '../../src/checks/run';
import { timeoutReason } from '../../src/checks/kernel';
import { sip, optionsRequest } from '../../src/checks/sip';
import type { SipSpec } from '../../src/checks/sip';
import { requirePart } from '../helpers/env';
import { ADDR, freePort, openSockets, settle } from '../helpers/throwaway';
import { missingSipp, startSipp, type Sipp } from '../helpers/sipp';
import { specFromConfig } from '../helpers/spec-from-cf';
import { missingPerlChecks, perlCheck } from '../helpers/perl-oracle';

const USER = 'monitor@127.30.4.1';

describe('checks: sip request', () => {
  it("is Perl's OPTIONS request, line for line", () => {
    const req = optionsRequest(USER, 'UDP', '127.0.0.1', 40000);
    assert.ok(req.endsWith('\r\n\r\n'));
    const lines = req.slice(0, -4).split('\r\n');
    const expected = [
      /^OPTIONS sip:monitor@127\.30\.4\.1 SIP\/2\.0$/,
      /^Via: SIP\/2\.0\/UDP 127\.0\.0\.1:40000;branch=z9hG4bK[0-9a-f]{16}$/,
      /^Max-Forwards: 70$/,
      /^To: <sip:monitor@127\.30\.4\.1>$/,
      /^From: <sip:monitor@127\.30\.4\.1>;tag=1928301774$/,
      /^Call-ID: [0-9a-f]{16}$/,
      /^CSeq: 63104 OPTIONS$/,
      /^Contact: <sip:monitor@127\.30\.4\.1>$/,
      /^Accept: application\/sdp$/,
      /^Content-Length: 0$/,
    ];
    assert.equal(lines.length, expected.length);
    lines.forEach((l, i) => assert.match(l, expected[i]));
  });

  it('brackets an IPv6 local address in Via and names the transport', () => {
    assert.match(optionsRequest(USER, 'TCP', '::1', 5060), /\r\nVia: SIP\/2\.0\/TCP \[::1\]:5060;branch=/);
  });

  it('uses a new Call-ID and branch for every request', () => {
    const a = optionsRequest(USER, 'UDP', '127.0.0.1', 1);
    const b = optionsRequest(USER, 'UDP', '127.0.0.1', 1);
    const pick = (s: string, re: RegExp) => re.exec(s)![1];
    assert.notEqual(pick(a, /Call-ID: (\S+)/), pick(b, /Call-ID: (\S+)/));
    assert.notEqual(pick(a, /branch=(\S+)/), pick(b, /branch=(\S+)/));
  });
});

describe('checks: sip (real SIPp)', function () {
  this.timeout(30000);
  const servers: Record<string, Sipp> = {};

  before(async function () {
    requirePart(this, missingSipp());
    servers.ok = await startSipp(ADDR.sip, 'udp', '200 OK');
    servers.okTcp = await startSipp(ADDR.sip, 'tcp', '200 OK');
    servers.notFound = await startSipp(ADDR.sip, 'udp', '404 Not Found');
    servers.notFoundTcp = await startSipp(ADDR.sip, 'tcp', '404 Not Found');
    servers.ok6 = await startSipp('::1', 'udp', '200 OK');
    servers.okTcp6 = await startSipp('::1', 'tcp', '200 OK');
  });
  after(async () => {
    await Promise.all(Object.values(servers).map((s) => s.dispose()));
  });

  const spec = (s: Sipp, o: Partial<SipSpec> = {}): SipSpec => ({
    kind: 'sip',
    host: s.host,
    port: s.port,
    udp: s.transport === 'udp',
    user: USER,
    timeoutMs: 5000,
    ...o,
  });

  it('UDP: a 200 OK answer is up', async () => {
    const r = await runProbe(spec(servers.ok));
    assert.deepEqual([r.up, r.reason], [true, 'SIP/2.0 200 OK']);
  });

  it('UDP: a 404 answer is down, with the status line as reason', async () => {
    const r = await runProbe(spec(servers.notFound));
    assert.deepEqual([r.up, r.reason], [false, 'SIP/2.0 404 Not Found']);
  });

  it('TCP: a 200 OK answer is up', async () => {
    const r = await runProbe(spec(servers.okTcp));
    assert.deepEqual([r.up, r.reason], [true, 'SIP/2.0 200 OK']);
  });

  it('TCP: a 404 answer is down', async () => {
    const r = await runProbe(spec(servers.notFoundTcp));
    assert.deepEqual([r.up, r.reason], [false, 'SIP/2.0 404 Not Found']);
  });

  it('IPv6 (::1), UDP and TCP', async () => {
    for (const s of [servers.ok6, servers.okTcp6]) {
      const r = await runProbe(spec(s));
      assert.deepEqual([r.up, r.reason], [true, 'SIP/2.0 200 OK'], `${s.transport} on ::1`);
    }
  });

  it('the server got the OPTIONS request Perl sends, and nothing was printed on stdout (W-18)', async () => {
    const written: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    let r;
    try {
      r = await runProbe(spec(servers.ok, { user: 'stdout-probe@127.30.4.1' }));
    } finally {
      process.stdout.write = write;
    }
    assert.equal(r.up, true);
    assert.deepEqual(written, []);
    const log = readFileSync(servers.ok.messageLog, 'latin1');
    const received = log.split(/-{10,}.*\n/).find((m) => m.includes('OPTIONS sip:stdout-probe@127.30.4.1 SIP/2.0'));
    assert.ok(received, 'SIPp did not log the request');
    for (const header of [
      'Max-Forwards: 70',
      'From: <sip:stdout-probe@127.30.4.1>;tag=1928301774',
      'CSeq: 63104 OPTIONS',
      'Accept: application/sdp',
      'Content-Length: 0',
    ]) {
      assert.ok(received.includes(header), `missing ${header}`);
    }
  });

  it('from ldirectord.cf: a udp sip virtual sends over UDP with login as the user part', async () => {
    const cf = [
      'virtual=127.30.4.100:5060',
      `\treal=${servers.ok.host}:${servers.ok.port} gate`,
      '\tservice=sip',
      '\tprotocol=udp',
      '\tchecktype=negotiate',
      '\tnegotiatetimeout=5',
      `\tlogin="${USER}"`,
      '',
    ].join('\n');
    const s = await specFromConfig('sip', cf);
    assert.deepEqual([s.udp, s.user], [true, USER]);
    const r = await runProbe(s);
    assert.deepEqual([r.up, r.reason], [true, 'SIP/2.0 200 OK']);
    const tcp = await specFromConfig(
      'sip',
      cf.replace('protocol=udp', 'protocol=tcp').replace(`:${servers.ok.port} `, `:${servers.okTcp.port} `),
    );
    assert.equal(tcp.udp, false);
    assert.equal((await runProbe(tcp)).up, true);
  });

  it("agrees with Perl's check_sip (same config, same server) on up/down", async function () {
    this.timeout(180000); // one Perl process per case; slow on a loaded machine
    requirePart(this, missingPerlChecks());
    const cf = (s: { host: string; port: number; transport: 'udp' | 'tcp' }) =>
      [
        'virtual=127.30.4.100:5060',
        `\treal=${s.host}:${s.port} gate`,
        '\tservice=sip',
        `\tprotocol=${s.transport}`,
        '\tchecktype=negotiate',
        '\tnegotiatetimeout=2',
        `\tlogin="${USER}"`,
        '',
      ].join('\n');
    const nobody = await freePort([
      ['udp', ADDR.sip],
      ['tcp', ADDR.sip],
    ]);
    const cases: Record<string, string> = {
      'udp 200': cf(servers.ok),
      'udp 404': cf(servers.notFound),
      'tcp 200': cf(servers.okTcp),
      'tcp 404': cf(servers.notFoundTcp),
      'udp nothing listening': cf({ host: ADDR.sip, port: nobody, transport: 'udp' }),
      'tcp nothing listening': cf({ host: ADDR.sip, port: nobody, transport: 'tcp' }),
    };
    for (const [name, text] of Object.entries(cases)) {
      const perl = await perlCheck(text);
      const ours = await runProbe(await specFromConfig('sip', text));
      assert.equal(ours.up, perl.up, `${name}: ours ${JSON.stringify(ours)}, Perl ${JSON.stringify(perl)}`);
    }
  });

  it('leaves no socket open after a check', async () => {
    await settle();
    const before = openSockets();
    await runProbe(spec(servers.ok));
    await runProbe(spec(servers.okTcp));
    await runProbe(spec(servers.notFound));
    await settle();
    assert.equal(openSockets(), before);
  });

  it('a port with nothing listening is down, UDP and TCP', async () => {
    const port = await freePort([
      ['udp', ADDR.nobody],
      ['tcp', ADDR.nobody],
    ]);
    const udp = await runProbe({ kind: 'sip', host: ADDR.nobody, port, udp: true, user: USER, timeoutMs: 5000 });
    assert.deepEqual([udp.up, udp.reason], [false, 'recvmsg ECONNREFUSED']);
    const tcp = await runProbe({ kind: 'sip', host: ADDR.nobody, port, udp: false, user: USER, timeoutMs: 5000 });
    assert.deepEqual([tcp.up, tcp.reason], [false, 'connect ECONNREFUSED']);
  });

  it('a frozen server (SIGSTOP) ends at the deadline, UDP and TCP, and the socket is torn down', async () => {
    await settle();
    const before = openSockets();
    for (const srv of [servers.ok, servers.okTcp]) {
      await srv.freeze();
      try {
        const s = spec(srv, { timeoutMs: 1200 });
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(new Error(timeoutReason(s.timeoutMs))), s.timeoutMs);
        // The check itself (not the runner's backstop) must answer the abort.
        const r = await sip.run(s, { signal: ac.signal });
        clearTimeout(timer);
        assert.deepEqual([r.up, r.reason], [false, timeoutReason(1200)], srv.transport);
      } finally {
        srv.thaw();
      }
    }
    await settle();
    assert.equal(openSockets(), before);
  });

  it('is down once the server is stopped', async () => {
    await servers.ok.stop();
    await servers.okTcp.stop();
    const udp = await runProbe(spec(servers.ok));
    assert.deepEqual([udp.up, udp.reason], [false, 'recvmsg ECONNREFUSED']);
    const tcp = await runProbe(spec(servers.okTcp));
    assert.deepEqual([tcp.up, tcp.reason], [false, 'connect ECONNREFUSED']);
  });
});
