/**
 * The check contract (src/checks/types.ts) for the LDAP, DNS, RADIUS and SIP checks, on
 * inputs no server is needed for: they never throw (a bad port is a down result), and a
 * signal that is already aborted ends them at once with its reason.
 */
import assert from 'node:assert/strict';
import { dns } from '../../src/checks/dns';
import { ldap } from '../../src/checks/ldap';
import { radius } from '../../src/checks/radius';
import { sip } from '../../src/checks/sip';
import type { CheckContext } from '../../src/checks/kernel';
import type { DnsSpec } from '../../src/checks/dns';
import type { LdapSpec } from '../../src/checks/ldap';
import type { RadiusSpec } from '../../src/checks/radius';
import type { SipSpec } from '../../src/checks/sip';
import { ADDR, openSockets, settle } from '../helpers/throwaway';

type AnyCheck = (port: number, ctx: CheckContext) => Promise<{ up: boolean; reason: string }>;

const host = ADDR.nobody;
const checks: Record<string, AnyCheck> = {
  ldap: (port, ctx) =>
    ldap.run(
      {
        kind: 'ldap',
        tls: false,
        host,
        port,
        user: '',
        password: '',
        base: '',
        receive: null,
        timeoutMs: 1000,
      } satisfies LdapSpec,
      ctx,
    ),
  ldaps: (port, ctx) =>
    ldap.run(
      {
        kind: 'ldap',
        tls: true,
        host,
        port,
        user: '',
        password: '',
        base: '',
        receive: null,
        timeoutMs: 1000,
      } satisfies LdapSpec,
      ctx,
    ),
  'dns udp': (port, ctx) =>
    dns.run(
      {
        kind: 'dns',
        host,
        port,
        tcp: false,
        query: 'www.example.test',
        receive: null,
        timeoutMs: 1000,
      } satisfies DnsSpec,
      ctx,
    ),
  'dns tcp': (port, ctx) =>
    dns.run(
      {
        kind: 'dns',
        host,
        port,
        tcp: true,
        query: 'www.example.test',
        receive: null,
        timeoutMs: 1000,
      } satisfies DnsSpec,
      ctx,
    ),
  radius: (port, ctx) =>
    radius.run(
      { kind: 'radius', host, port, secret: 's', user: 'u', password: 'p', timeoutMs: 1000 } satisfies RadiusSpec,
      ctx,
    ),
  'sip udp': (port, ctx) =>
    sip.run({ kind: 'sip', host, port, udp: true, user: 'u@example.test', timeoutMs: 1000 } satisfies SipSpec, ctx),
  'sip tcp': (port, ctx) =>
    sip.run({ kind: 'sip', host, port, udp: false, user: 'u@example.test', timeoutMs: 1000 } satisfies SipSpec, ctx),
};

describe('checks: ldap, dns, radius, sip contract', () => {
  for (const [name, check] of Object.entries(checks)) {
    it(`${name}: a port out of range is a down result, not a throw`, async () => {
      for (const port of [-1, 70000]) {
        const r = await check(port, { signal: new AbortController().signal });
        assert.equal(r.up, false);
        assert.match(r.reason, /ERR_SOCKET_BAD_PORT/);
      }
    });

    it(`${name}: an aborted signal ends it at once with the signal's reason, leaving no socket`, async () => {
      await settle();
      const before = openSockets();
      const ac = new AbortController();
      ac.abort(new Error('stopped'));
      assert.deepEqual(await check(53, { signal: ac.signal }), {
        up: false,
        cause: 'stopped',
        reason: 'stopped',
      });
      await settle();
      assert.equal(openSockets(), before);
    });
  }
});
