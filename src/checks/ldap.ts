/**
 * service=ldap / ldaps negotiate check (Perl check_ldap, which uses Net::LDAP).
 *
 * Connects (ldaps: TLS without certificate verification, as Net::LDAP's default), binds
 * (anonymously unless both login and passwd are set), then searches base=`spec.base`,
 * scope base, filter `(objectClass=*)`. Up when exactly one entry comes back and either
 * receive is empty or the entry's DN matches it.
 *
 * Reasons are Perl's: `Success`, `Connection failed` (no TCP/TLS session), `Bind failed`
 * (the bind was refused or the session broke during it), `No answer received` (the search
 * failed or did not return exactly one entry), `Response mismatch`; a detail follows in
 * parentheses where there is one. The deadline gives the runner's reason. The password is
 * never part of a reason.
 *
 * ldapts owns the protocol; the sockets are made here (its createConnection hooks) so the
 * check knows whether the connection was made and can destroy it at the deadline.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Client, ResultCodeError, SASL_MECHANISMS, type DN } from 'ldapts';
import { toByteString } from '../perl/regex';
import type { Check, LdapSpec } from './types';

type Result = { up: boolean; reason: string };

export const checkLdap: Check<LdapSpec> = (spec, { signal }) =>
  new Promise<Result>((resolve) => {
    let socket: Socket | TLSSocket | undefined;
    let connected = false;
    let finished = false;
    const done = (r: Result) => {
      if (finished) return;
      finished = true;
      signal.removeEventListener('abort', onAbort);
      socket?.destroy();
      resolve(r);
    };
    const onAbort = () => done({ up: false, reason: (signal.reason as Error)?.message ?? 'aborted' });
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });

    const track = <T extends Socket>(s: T, event: 'connect' | 'secureConnect'): T => {
      // ldapts reconnects when asked to search on a closed session: after the deadline
      // such a socket is failed at once, so nothing outlives the check.
      if (finished) process.nextTick(() => s.destroy(new Error('check already finished')));
      else socket = s;
      s.once(event, () => (connected = true));
      return s;
    };
    let client: Client;
    try {
      client = new Client({
        // ldapts needs a URL; the sockets below go to spec.host and spec.port directly.
        url: `${spec.tls ? 'ldaps' : 'ldap'}://localhost`,
        strictDN: false,
        tlsOptions: spec.tls ? { rejectUnauthorized: false } : undefined,
        createConnection: (() =>
          track(netConnect({ host: spec.host, port: spec.port }), 'connect')) as typeof netConnect,
        createSecureConnection: (() =>
          track(
            tlsConnect({ host: spec.host, port: spec.port, rejectUnauthorized: false }),
            'secureConnect',
          )) as typeof tlsConnect,
      });
    } catch (e) {
      return done({ up: false, reason: `Connection failed (${detail(e)})` });
    }

    void run(client, spec, () => connected)
      .catch((e: unknown): Result => ({ up: false, reason: `No answer received (${detail(e)})` }))
      .then(async (r) => {
        // Say goodbye (an UnbindRequest, then ldapts closes the socket once it is written);
        // at the deadline done() has already destroyed the socket instead.
        if (!finished) await client.unbind().catch(() => undefined);
        done(r);
      });
  });

async function run(client: Client, spec: LdapSpec, connected: () => boolean): Promise<Result> {
  try {
    if (spec.user && spec.password) await client.bind(bindName(spec.user), spec.password);
    else await client.bind('');
  } catch (e) {
    if (!connected()) return { up: false, reason: `Connection failed (${detail(e)})` };
    return { up: false, reason: `Bind failed (${detail(e)})` };
  }
  let entries: { dn: string }[];
  try {
    ({ searchEntries: entries } = await client.search(spec.base, { scope: 'base', filter: '(objectClass=*)' }));
  } catch (e) {
    return { up: false, reason: `No answer received (${detail(e)})` };
  }
  if (entries.length !== 1) return { up: false, reason: `No answer received (${entries.length} entries)` };
  const dn = entries[0].dn;
  if (spec.receive === null) return { up: true, reason: 'Success' };
  spec.receive.lastIndex = 0;
  if (spec.receive.test(toByteString(dn))) return { up: true, reason: 'Success' };
  return { up: false, reason: `Response mismatch (DN ${dn})` };
}

/**
 * ldapts treats a bind name equal to a SASL mechanism (EXTERNAL, PLAIN, …) as a SASL bind;
 * Net::LDAP does a simple bind with whatever the login is, so pass such a name as a DN.
 */
function bindName(user: string): string | DN {
  return (SASL_MECHANISMS as readonly string[]).includes(user) ? ({ toString: () => user } as unknown as DN) : user;
}

/** A short detail for a reason: the LDAP result, or the socket error code. */
function detail(e: unknown): string {
  if (e instanceof ResultCodeError) return `${e.code} ${e.name.replace(/Error$/, '')}`;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object') {
    if (err.code) return `${err.syscall ? err.syscall + ' ' : ''}${err.code}`;
    return String(err.message).split('\n')[0];
  }
  return String(e);
}
