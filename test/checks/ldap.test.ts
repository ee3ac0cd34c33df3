/**
 * service=ldap / ldaps against a real OpenLDAP slapd started for this file (no mocks).
 * Semantics from Perl check_ldap: bind (anonymous unless login and passwd are both set),
 * base search with (objectClass=*), up on exactly one entry whose DN matches receive.
 */
import assert from 'node:assert/strict';
import { runProbe } from '../../src/checks/run';
import { timeoutReason } from '../../src/checks/kernel';
import { ldap } from '../../src/checks/ldap';
import { compileReceive } from '../../src/checks/receive';
import type { LdapSpec } from '../../src/checks/ldap';
import { requirePart } from '../helpers/env';
import { ADDR, freePort, openSockets, settle } from '../helpers/throwaway';
import { MONITOR_DN, MONITOR_PASSWORD, SUFFIX, missingSlapd, startSlapd, type Slapd } from '../helpers/slapd';
import { specFromConfig } from '../helpers/spec-from-cf';
import { missingPerlChecks, perlCheck } from '../helpers/perl-oracle';

describe('checks: ldap / ldaps (real slapd)', function () {
  this.timeout(30000);
  let slapd: Slapd | undefined;

  before(async function () {
    requirePart(this, missingSlapd());
    slapd = await startSlapd();
  });
  after(async () => {
    await slapd?.dispose();
  });

  const spec = (o: Partial<LdapSpec> = {}): LdapSpec => ({
    kind: 'ldap',
    tls: false,
    host: slapd!.host,
    port: slapd!.ldapPort,
    user: '',
    password: '',
    base: SUFFIX,
    receive: null,
    timeoutMs: 5000,
    ...o,
  });

  it('anonymous search of an existing base DN is up', async () => {
    const r = await runProbe(spec());
    assert.deepEqual([r.up, r.reason], [true, 'Success']);
  });

  it('is up when receive matches the entry DN', async () => {
    const r = await runProbe(spec({ receive: compileReceive('^dc=example,') }));
    assert.deepEqual([r.up, r.reason], [true, 'Success']);
  });

  it('is down with Response mismatch when receive does not match the DN', async () => {
    const r = await runProbe(spec({ receive: compileReceive('ou=elsewhere') }));
    assert.equal(r.up, false);
    assert.equal(r.reason, `Response mismatch (DN ${SUFFIX})`);
  });

  it('binds with login and passwd and is up', async () => {
    const r = await runProbe(spec({ user: MONITOR_DN, password: MONITOR_PASSWORD }));
    assert.deepEqual([r.up, r.reason], [true, 'Success']);
  });

  it('is down with Bind failed on a wrong password, and the password is not in the reason', async () => {
    const r = await runProbe(spec({ user: MONITOR_DN, password: 'not-the-password' }));
    assert.equal(r.up, false);
    assert.equal(r.reason, 'Bind failed (49 InvalidCredentials)');
    assert.ok(!r.reason.includes('not-the-password'));
  });

  it('binds anonymously when only login is set (Perl needs both login and passwd)', async () => {
    const r = await runProbe(spec({ user: 'cn=nobody,dc=example,dc=test', password: '' }));
    assert.deepEqual([r.up, r.reason], [true, 'Success']);
  });

  it('is down with No answer received when the base DN does not exist', async () => {
    const r = await runProbe(spec({ base: `ou=missing,${SUFFIX}` }));
    assert.equal(r.up, false);
    assert.equal(r.reason, 'No answer received (32 NoSuchObject)');
  });

  it('an empty base (request "/") reads the root DSE: one entry, up', async () => {
    const r = await runProbe(spec({ base: '' }));
    assert.deepEqual([r.up, r.reason], [true, 'Success']);
  });

  it('ldaps with a self-signed certificate is up (no certificate verification)', async () => {
    const r = await runProbe(spec({ tls: true, port: slapd!.ldapsPort, receive: compileReceive('dc=test$') }));
    assert.deepEqual([r.up, r.reason], [true, 'Success']);
  });

  it('ldaps to a plain ldap port is down with Connection failed', async () => {
    const r = await runProbe(spec({ tls: true, port: slapd!.ldapPort }));
    assert.equal(r.up, false);
    assert.match(r.reason, /^Connection failed \(/);
  });

  it('works over IPv6 (::1)', async () => {
    const r = await runProbe(
      spec({ host: '::1', port: slapd!.ldap6Port, user: MONITOR_DN, password: MONITOR_PASSWORD }),
    );
    assert.deepEqual([r.up, r.reason], [true, 'Success']);
  });

  it('from ldirectord.cf: base is the request without its first character, receive matches the DN', async () => {
    const cf = [
      'virtual=127.30.1.100:389',
      `\treal=${slapd!.host}:${slapd!.ldapPort} gate`,
      '\tservice=ldap',
      '\tchecktype=negotiate',
      '\tnegotiatetimeout=5',
      `\trequest="/ou=people,${SUFFIX}"`,
      '\treceive="^ou=people,"',
      `\tlogin="${MONITOR_DN}"`,
      `\tpasswd="${MONITOR_PASSWORD}"`,
      '',
    ].join('\n');
    const s = await specFromConfig('ldap', cf);
    assert.equal(s.base, `ou=people,${SUFFIX}`);
    const r = await runProbe(s);
    assert.deepEqual([r.up, r.reason], [true, 'Success']);
  });

  it("agrees with Perl's check_ldap (same config, same server) on up/down and reason", async function () {
    this.timeout(180000); // one Perl process per case; slow on a loaded machine
    requirePart(this, missingPerlChecks());
    const cf = (o: {
      service?: string;
      port?: number;
      request: string;
      receive?: string;
      login?: string;
      passwd?: string;
    }) =>
      [
        'virtual=127.30.1.100:389',
        `\treal=${slapd!.host}:${o.port ?? slapd!.ldapPort} gate`,
        `\tservice=${o.service ?? 'ldap'}`,
        '\tchecktype=negotiate',
        '\tnegotiatetimeout=5',
        '\tchecktimeout=5',
        `\trequest="${o.request}"`,
        ...(o.receive !== undefined ? [`\treceive="${o.receive}"`] : []),
        ...(o.login !== undefined ? [`\tlogin="${o.login}"`] : []),
        ...(o.passwd !== undefined ? [`\tpasswd="${o.passwd}"`] : []),
        '',
      ].join('\n');
    const nobodyPort = await freePort([['tcp', slapd!.host]]);
    const cases: Record<string, string> = {
      anonymous: cf({ request: `/${SUFFIX}` }),
      'receive matches': cf({ request: `/${SUFFIX}`, receive: '^dc=example' }),
      'receive does not match': cf({ request: `/${SUFFIX}`, receive: 'ou=elsewhere' }),
      'login and passwd': cf({ request: `/${SUFFIX}`, login: MONITOR_DN, passwd: MONITOR_PASSWORD }),
      'wrong passwd': cf({ request: `/${SUFFIX}`, login: MONITOR_DN, passwd: 'wrong' }),
      'login without passwd': cf({ request: `/${SUFFIX}`, login: 'cn=nobody,dc=example,dc=test' }),
      'missing base': cf({ request: `/ou=missing,${SUFFIX}` }),
      'root DSE': cf({ request: '/' }),
      'request without a leading slash': cf({ request: `x${SUFFIX}` }),
      ldaps: cf({ service: 'ldaps', port: slapd!.ldapsPort, request: `/${SUFFIX}`, receive: 'dc=test$' }),
      'nothing listening': cf({ port: nobodyPort, request: `/${SUFFIX}` }),
    };
    for (const [name, text] of Object.entries(cases)) {
      const perl = await perlCheck(text);
      const ours = await runProbe(await specFromConfig('ldap', text));
      assert.deepEqual(
        [ours.up, ours.reason.replace(/ \(.*\)$/s, '')],
        [perl.up, perl.reason],
        `${name}: ours ${JSON.stringify(ours)}, Perl ${JSON.stringify(perl)}`,
      );
    }
  });

  it('leaves no socket open after a check', async () => {
    await settle();
    const before = openSockets();
    await runProbe(spec());
    await runProbe(spec({ tls: true, port: slapd!.ldapsPort }));
    await runProbe(spec({ user: MONITOR_DN, password: 'wrong' }));
    await settle();
    assert.equal(openSockets(), before);
  });

  it('stops at the daemon stop signal', async () => {
    const stop = new AbortController();
    stop.abort(new Error('stopped'));
    const r = await runProbe(spec(), stop.signal);
    assert.deepEqual([r.up, r.reason], [false, 'stopped']);
  });

  it('a frozen server (SIGSTOP) ends at the deadline and the socket is torn down', async () => {
    await settle();
    const before = openSockets();
    await slapd!.freeze();
    try {
      for (const s of [spec({ timeoutMs: 800 }), spec({ tls: true, port: slapd!.ldapsPort, timeoutMs: 800 })]) {
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(new Error(timeoutReason(s.timeoutMs))), s.timeoutMs);
        // The check itself (not the runner's backstop) must answer the abort.
        const r = await ldap.run(s, { signal: ac.signal });
        clearTimeout(timer);
        assert.deepEqual([r.up, r.reason], [false, timeoutReason(800)]);
        const viaRunner = await runProbe(s);
        assert.deepEqual([viaRunner.up, viaRunner.reason], [false, timeoutReason(800)]);
      }
    } finally {
      slapd!.thaw();
    }
    await settle();
    assert.equal(openSockets(), before);
  });

  it('a port with nothing listening is down with Connection failed', async () => {
    const port = await freePort([['tcp', ADDR.nobody]]);
    const r = await runProbe(spec({ host: ADDR.nobody, port }));
    assert.deepEqual([r.up, r.reason], [false, 'Connection failed (connect ECONNREFUSED)']);
  });

  it('is down with Connection failed once the server is stopped', async () => {
    await slapd!.stop();
    const r = await runProbe(spec());
    assert.deepEqual([r.up, r.reason], [false, 'Connection failed (connect ECONNREFUSED)']);
    const r6 = await runProbe(spec({ tls: true, port: slapd!.ldapsPort }));
    assert.deepEqual([r6.up, r6.reason], [false, 'Connection failed (connect ECONNREFUSED)']);
  });
});
