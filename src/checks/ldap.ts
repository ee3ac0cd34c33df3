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
 * ldapts owns the protocol (loaded the first time an LDAP check runs); the sockets are made
 * here (its createConnection hooks) so the check knows whether the connection was made,
 * can destroy it at the deadline, and stops reading after READ_CAP bytes: a server sending
 * entry after entry costs at most that.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { READ_CAP, aborted, down, errorCause, errorText, inert, session, up, type Cause, type Verdict } from './kernel';
import { defineKind, negotiateBase, type Receive } from './kind';
import { toByteString } from './receive';

export interface LdapSpec {
  kind: 'ldap';
  tls: boolean;
  host: string;
  port: number;
  /** Bind DN and password; anonymous bind unless both are set. */
  user: string;
  password: string;
  /** Search base (request without its leading '/'). */
  base: string;
  receive: Receive | null;
  timeoutMs: number;
}

/** ldapts, loaded the first time an LDAP check runs (its ESM entry, as a dynamic import gets it). */
const load = () => import('ldapts');
type Ldapts = Awaited<ReturnType<typeof load>>;
type Client = InstanceType<Ldapts['Client']>;
type DN = InstanceType<Ldapts['DN']>;

let ldapts: Ldapts | undefined;

export const ldap = defineKind<LdapSpec>({
  services: { ldap: 389, ldaps: 636 },
  preload: async () => (ldapts ??= await load()),
  usesReceive: true,
  spec: (t) => ({
    kind: 'ldap',
    ...negotiateBase(t),
    tls: t.service === 'ldaps',
    user: t.login,
    password: t.passwd,
    base: t.request.slice(1),
    receive: t.receive,
  }),
  async run(spec, { signal }) {
    const lib = (ldapts ??= await load());
    let connected = false;
    let finished = false;
    let socket: Socket | undefined;
    return session(
      signal,
      (settle) => {
        const track = <T extends Socket>(s: T, event: 'connect' | 'secureConnect'): T => {
          // ldapts reconnects when asked to search on a closed session: after the deadline
          // such a socket is failed at once, so nothing outlives the check.
          if (finished) process.nextTick(() => s.destroy(new Error('check already finished')));
          else socket = s;
          s.once(event, () => (connected = true));
          let read = 0;
          s.on('data', (chunk: Buffer) => {
            read += chunk.length;
            if (read > READ_CAP) s.destroy(new Error(`more than ${READ_CAP} bytes`));
          });
          return s;
        };
        const client: Client = new lib.Client({
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
        void dialogue(lib, client, spec, () => connected)
          .catch((e: unknown) => down('protocol', `No answer received (${detail(lib, e)})`))
          .then(async (v) => {
            // Say goodbye (an UnbindRequest, then ldapts closes the socket once it is written);
            // at the deadline the socket has already been destroyed instead.
            if (!finished) await client.unbind().catch(() => undefined);
            settle(v);
          });
        return () => {
          finished = true;
          socket?.destroy();
        };
      },
      () => {
        finished = true;
        return aborted(signal);
      },
      (e) => down('error', `Connection failed (${errorText(e)})`),
    );
  },
});

async function dialogue(lib: Ldapts, client: Client, spec: LdapSpec, connected: () => boolean): Promise<Verdict> {
  try {
    if (spec.user && spec.password) await client.bind(bindName(lib, spec.user), spec.password);
    else await client.bind('');
  } catch (e) {
    if (!connected()) return down(causeOf(lib, e, 'refused'), `Connection failed (${detail(lib, e)})`);
    return down(causeOf(lib, e, 'auth'), `Bind failed (${detail(lib, e)})`);
  }
  let entries: { dn: string }[];
  try {
    ({ searchEntries: entries } = await client.search(spec.base, { scope: 'base', filter: '(objectClass=*)' }));
  } catch (e) {
    return down(causeOf(lib, e, 'status'), `No answer received (${detail(lib, e)})`);
  }
  if (entries.length !== 1) return down('mismatch', `No answer received (${entries.length} entries)`);
  const dn = entries[0]!.dn;
  if (spec.receive === null) return up('Success');
  if (spec.receive.test(toByteString(dn))) return up('Success');
  return down('mismatch', `Response mismatch (DN ${inert(dn, 200)})`);
}

/** An LDAP result code is the given cause; a socket error its own. */
function causeOf(lib: Ldapts, e: unknown, ldapCause: Cause): Cause {
  return e instanceof lib.ResultCodeError ? ldapCause : errorCause(e);
}

/**
 * ldapts treats a bind name equal to a SASL mechanism (EXTERNAL, PLAIN, …) as a SASL bind;
 * Net::LDAP does a simple bind with whatever the login is, so pass such a name as a DN.
 */
function bindName(lib: Ldapts, user: string): string | DN {
  return (lib.SASL_MECHANISMS as readonly string[]).includes(user) ? ({ toString: () => user } as unknown as DN) : user;
}

/** A short detail for a reason: the LDAP result, or the socket error code. */
function detail(lib: Ldapts, e: unknown): string {
  if (e instanceof lib.ResultCodeError) return `${e.code} ${e.name.replace(/Error$/, '')}`;
  return inert(errorText(e), 200);
}
