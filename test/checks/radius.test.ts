/**
 * service=radius: the packet rules against RFC 2865's own example, then the check against
 * a real FreeRADIUS started for this file (no mocks). Semantics from Perl check_radius
 * (Authen::Radius check_pwd): up only on Access-Accept.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { runProbe } from '../../src/checks/run';
import { timeoutReason } from '../../src/checks/kernel';
import { accessRequest, radius as radiusKind, hidePassword, judgeReply } from '../../src/checks/radius';
import type { RadiusSpec } from '../../src/checks/radius';
import { requirePart } from '../helpers/env';
import { ADDR, freePort, openSockets, settle } from '../helpers/throwaway';
import {
  RADIUS_PASSWORD,
  RADIUS_SECRET,
  RADIUS_USER,
  missingFreeRadius,
  startFreeRadius,
  type FreeRadius,
} from '../helpers/freeradius';
import { specFromConfig } from '../helpers/spec-from-cf';
import { missingPerlChecks, perlCheck } from '../helpers/perl-oracle';

describe('checks: radius packets (RFC 2865 section 7.1 example)', () => {
  // User nemo, password arctangent, secret xyzzy5461.
  const secret = Buffer.from('xyzzy5461');
  const requestAuthenticator = Buffer.from('0f403f9473978057bd83d5cb98f4227a', 'hex');

  it('hides User-Password as the RFC example does', () => {
    assert.equal(
      hidePassword(Buffer.from('arctangent'), secret, requestAuthenticator).toString('hex'),
      '0dbe708d93d413ce3196e43f782a0aee',
    );
  });

  it("accepts the RFC's Access-Accept and rejects it with another secret or a changed byte", () => {
    const accept = Buffer.from('0200002686fe220e7624ba2a1005f6bf9b55e0b20606000000010f06000000000e06c0a80103', 'hex');
    assert.deepEqual(judgeReply(accept, 0, requestAuthenticator, secret), {
      up: true,
      cause: 'ok',
      reason: 'Access-Accept',
    });
    assert.equal(judgeReply(accept, 0, requestAuthenticator, Buffer.from('other'))?.up, false);
    const tampered = Buffer.from(accept);
    tampered[tampered.length - 1] ^= 1;
    assert.match(judgeReply(tampered, 0, requestAuthenticator, secret)!.reason, /wrong Response Authenticator/);
    const reject = Buffer.from(accept);
    reject[0] = 3;
    assert.equal(judgeReply(reject, 0, requestAuthenticator, secret)?.up, false);
    // Another identifier is not an answer to this request: keep waiting.
    assert.equal(judgeReply(accept, 1, requestAuthenticator, secret), null);
  });

  it('builds an Access-Request with a valid Message-Authenticator and no clear-text password', () => {
    const { packet } = accessRequest(7, 'nemo', 'arctangent', secret, '192.168.1.16', requestAuthenticator);
    assert.equal(packet[0], 1);
    assert.equal(packet[1], 7);
    assert.equal(packet.readUInt16BE(2), packet.length);
    // User-Name, User-Password and NAS-IP-Address as in the RFC's example packet.
    assert.ok(packet.includes(Buffer.from('01066e656d6f02120dbe708d93d413ce3196e43f782a0aee0406c0a80110', 'hex')));
    assert.ok(!packet.includes(Buffer.from('arctangent')));
    const ma = packet.subarray(packet.length - 18);
    assert.deepEqual([ma[0], ma[1]], [80, 18]);
    const zeroed = Buffer.from(packet);
    zeroed.fill(0, packet.length - 16);
    assert.ok(createHmac('md5', secret).update(zeroed).digest().equals(ma.subarray(2)));
  });
});

describe('checks: radius (real FreeRADIUS)', function () {
  this.timeout(30000);
  let radius: FreeRadius | undefined;

  before(async function () {
    requirePart(this, missingFreeRadius());
    radius = await startFreeRadius();
  });
  after(async () => {
    await radius?.dispose();
  });

  const spec = (o: Partial<RadiusSpec> = {}): RadiusSpec => ({
    kind: 'radius',
    host: radius!.host,
    port: radius!.port,
    secret: RADIUS_SECRET,
    user: RADIUS_USER,
    password: RADIUS_PASSWORD,
    timeoutMs: 5000,
    ...o,
  });

  const noSecretIn = (reason: string) => {
    assert.ok(!reason.includes(RADIUS_SECRET), 'the secret is in the reason');
    assert.ok(!reason.includes(RADIUS_PASSWORD), 'the password is in the reason');
  };

  it('the right password gets Access-Accept: up', async () => {
    const r = await runProbe(spec());
    assert.deepEqual([r.up, r.reason], [true, 'Access-Accept']);
  });

  it('a wrong password gets Access-Reject: down', async () => {
    const r = await runProbe(spec({ password: 'wrong' }));
    assert.deepEqual([r.up, r.reason], [false, 'Access-Reject']);
  });

  it('an unknown user gets Access-Reject: down', async () => {
    const r = await runProbe(spec({ user: 'mallory' }));
    assert.deepEqual([r.up, r.reason], [false, 'Access-Reject']);
  });

  it('a wrong shared secret is down: the server drops the request (bad Message-Authenticator)', async () => {
    const r = await runProbe(spec({ secret: 'not-the-secret', timeoutMs: 1500 }));
    assert.deepEqual([r.up, r.reason], [false, timeoutReason(1500)]);
    noSecretIn(r.reason);
  });

  it('works over IPv6 (::1)', async () => {
    const r = await runProbe(spec({ host: '::1' }));
    assert.deepEqual([r.up, r.reason], [true, 'Access-Accept']);
  });

  it('from ldirectord.cf: login, passwd and secret of a radius virtual', async () => {
    const cf = [
      'virtual=127.30.3.100:1812',
      `\treal=${radius!.host}:${radius!.port} gate`,
      '\tservice=radius',
      '\tprotocol=udp',
      '\tchecktype=negotiate',
      '\tnegotiatetimeout=5',
      `\tlogin="${RADIUS_USER}"`,
      `\tpasswd="${RADIUS_PASSWORD}"`,
      `\tsecret="${RADIUS_SECRET}"`,
      '',
    ].join('\n');
    const s = await specFromConfig('radius', cf);
    assert.deepEqual([s.user, s.password, s.secret], [RADIUS_USER, RADIUS_PASSWORD, RADIUS_SECRET]);
    const r = await runProbe(s);
    assert.deepEqual([r.up, r.reason], [true, 'Access-Accept']);
  });

  it("agrees with Perl's check_radius (same config, same server) on up/down", async function () {
    this.timeout(180000); // one Perl process per case; slow on a loaded machine
    requirePart(this, missingPerlChecks());
    const cf = (o: { port?: number; login?: string; passwd?: string; secret?: string }) =>
      [
        'virtual=127.30.3.100:1812',
        `\treal=${radius!.host}:${o.port ?? radius!.port} gate`,
        '\tservice=radius',
        '\tprotocol=udp',
        '\tchecktype=negotiate',
        '\tnegotiatetimeout=2',
        '\tchecktimeout=2',
        `\tlogin="${o.login ?? RADIUS_USER}"`,
        `\tpasswd="${o.passwd ?? RADIUS_PASSWORD}"`,
        `\tsecret="${o.secret ?? RADIUS_SECRET}"`,
        '',
      ].join('\n');
    const cases: Record<string, string> = {
      accept: cf({}),
      'wrong passwd': cf({ passwd: 'wrong' }),
      'unknown user': cf({ login: 'mallory' }),
      'wrong secret': cf({ secret: 'not-the-secret' }),
      'nothing listening': cf({ port: await freePort([['udp', radius!.host]]) }),
    };
    for (const [name, text] of Object.entries(cases)) {
      const perl = await perlCheck(text);
      const ours = await runProbe(await specFromConfig('radius', text));
      assert.equal(ours.up, perl.up, `${name}: ours ${JSON.stringify(ours)}, Perl ${JSON.stringify(perl)}`);
      noSecretIn(ours.reason);
    }
  });

  it('leaves no socket open after a check', async () => {
    await settle();
    const before = openSockets();
    await runProbe(spec());
    await runProbe(spec({ password: 'wrong' }));
    await settle();
    assert.equal(openSockets(), before);
  });

  it('a frozen server (SIGSTOP) ends at the deadline and the socket is torn down', async () => {
    await settle();
    const before = openSockets();
    await radius!.freeze();
    try {
      const s = spec({ timeoutMs: 1200 });
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(new Error(timeoutReason(s.timeoutMs))), s.timeoutMs);
      // The check itself (not the runner's backstop) must answer the abort.
      const r = await radiusKind.run(s, { signal: ac.signal });
      clearTimeout(timer);
      assert.deepEqual([r.up, r.reason], [false, timeoutReason(1200)]);
    } finally {
      radius!.thaw();
    }
    await settle();
    assert.equal(openSockets(), before);
  });

  it('a port with nothing listening is down (ICMP port unreachable)', async () => {
    const port = await freePort([['udp', ADDR.nobody]]);
    const r = await runProbe(spec({ host: ADDR.nobody, port }));
    assert.deepEqual([r.up, r.reason], [false, 'recvmsg ECONNREFUSED']);
  });

  it('is down once the server is stopped', async () => {
    await radius!.stop();
    const r = await runProbe(spec());
    assert.deepEqual([r.up, r.reason], [false, 'recvmsg ECONNREFUSED']);
  });
});
