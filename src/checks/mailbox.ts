/**
 * service=pop/pops and service=imap/imaps negotiate checks (Perl check_pop with
 * Mail::POP3Client, check_imap/check_imaps with Net::IMAP::Simple(::SSL)).
 *
 * Connect (TLS from the first byte for pops/imaps, certificate not verified: self-signed
 * mail servers are common), read the greeting, and when `login` is set log in: POP3
 * USER/PASS, IMAP LOGIN with each argument sent as a quoted string or, when it holds a
 * byte a quoted string cannot, as a literal. Up when the greeting is positive and, if a
 * login was attempted, it succeeded. Then QUIT / LOGOUT.
 *
 * One deliberate difference: Perl's check_pop with an empty login was UP whatever the
 * server did (Mail::POP3Client->new returns an object even when the connection fails);
 * here a POP3 check without login is up only when the server greets with +OK.
 *
 * The password never reaches a reason: server text is scrubbed of it before it is shown.
 */
import { down, quoted, scrub, up, type CheckContext, type Verdict } from './kernel';
import { defineKind, negotiateBase } from './kind';
import { LineFailure, lineVerdict, openLineConn, type LineConn } from './line-conn';

export interface MailboxSpec {
  kind: 'mailbox';
  protocol: 'pop' | 'imap';
  /** TLS from the first byte (pops, imaps); the certificate is not verified. */
  tls: boolean;
  host: string;
  port: number;
  user: string;
  password: string;
  timeoutMs: number;
}

const VARIANTS: Record<string, { protocol: 'pop' | 'imap'; tls: boolean }> = {
  pop: { protocol: 'pop', tls: false },
  pops: { protocol: 'pop', tls: true },
  imap: { protocol: 'imap', tls: false },
  imaps: { protocol: 'imap', tls: true },
};

export const mailbox = defineKind<MailboxSpec>({
  services: { pop: 110, pops: 995, imap: 143, imaps: 993 },
  spec: (t) => ({
    kind: 'mailbox',
    ...negotiateBase(t),
    ...VARIANTS[t.service]!,
    user: t.login,
    password: t.passwd,
  }),
  run: checkMailbox,
});

/** Untagged lines accepted before the tagged reply (capabilities, alerts, …). */
const MAX_UNTAGGED = 1000;

async function checkMailbox(spec: MailboxSpec, { signal }: CheckContext): Promise<Verdict> {
  const proto = spec.protocol === 'pop' ? (spec.tls ? 'POP3S' : 'POP3') : spec.tls ? 'IMAPS' : 'IMAP';
  if (/[\r\n\0]/.test(spec.user) || /[\r\n\0]/.test(spec.password)) {
    return down('error', `${proto}: login or passwd contains a line break or NUL, refusing to send it`);
  }
  const step = { name: 'connect' };
  // Server text in a reason is quoted and scrubbed of the password (a server may echo it).
  const said = (line: string) => quoted(scrub(line, spec.password));
  let conn: LineConn | undefined;
  try {
    conn = await openLineConn({ host: spec.host, port: spec.port, tls: spec.tls, signal });
    step.name = 'greeting';
    const d: Dialogue = { conn, spec, proto, step, said };
    return spec.protocol === 'pop' ? await pop(d) : await imap(d);
  } catch (e) {
    return lineVerdict(e, step.name === 'connect' ? '' : `${proto} ${step.name}: `);
  } finally {
    conn?.finish();
  }
}

/** One conversation: its connection, what it checks, its name, its step, and how server text is shown. */
interface Dialogue {
  conn: LineConn;
  spec: MailboxSpec;
  proto: string;
  step: { name: string };
  /** Server text for a reason: quoted, bounded, scrubbed of the password. */
  said: (line: string) => string;
}

async function pop({ conn, spec, proto, step, said }: Dialogue): Promise<Verdict> {
  const positive = (line: string) => /^\+OK/i.test(line);
  const greeting = await conn.readLine();
  if (!positive(greeting)) return down('status', `${proto} greeting: expected +OK, got ${said(greeting)}`);
  if (spec.user === '') {
    conn.finish('QUIT\r\n');
    return up(`${proto} greeting +OK`);
  }
  step.name = 'USER';
  conn.write(`USER ${spec.user}\r\n`);
  const user = await conn.readLine();
  if (!positive(user)) {
    conn.finish('QUIT\r\n');
    return down('auth', `${proto} login as ${spec.user} failed at USER: ${said(user)}`);
  }
  step.name = 'PASS';
  conn.write(`PASS ${spec.password}\r\n`);
  const pass = await conn.readLine();
  conn.finish('QUIT\r\n');
  if (!positive(pass)) return down('auth', `${proto} login as ${spec.user} failed: ${said(pass)}`);
  return up(`${proto} login as ${spec.user} accepted`);
}

/** Can `s` go in an IMAP quoted string (7-bit text without CR, LF, NUL)? */
const quotable = (s: string) => /^[\x01-\x09\x0b\x0c\x0e-\x7f]*$/.test(s);
const imapQuoted = (s: string) => `"${s.replace(/[\\"]/g, (c) => '\\' + c)}"`;

async function imap({ conn, spec, proto, step, said }: Dialogue): Promise<Verdict> {
  const greeting = await conn.readLine();
  const g = /^\* (OK|PREAUTH|BYE)\b/i.exec(greeting);
  if (!g || g[1]!.toUpperCase() === 'BYE') {
    return down('status', `${proto} greeting: expected "* OK", got ${said(greeting)}`);
  }
  if (spec.user === '') {
    conn.finish('A1 LOGOUT\r\n');
    return up(`${proto} greeting * ${g[1]!.toUpperCase()}`);
  }
  if (g[1]!.toUpperCase() === 'PREAUTH') {
    // Already authenticated by the connection itself: LOGIN would be refused as out of place.
    conn.finish('A1 LOGOUT\r\n');
    return up(`${proto} greeting * PREAUTH (already authenticated, login not needed)`);
  }

  step.name = 'LOGIN';
  // Send `A1 LOGIN <user> <password>`, each argument quoted, or as a synchronising
  // literal ({n} CRLF, wait for the server's "+", then the bytes) when it cannot be.
  let pending = 'A1 LOGIN';
  for (const arg of [spec.user, spec.password]) {
    if (quotable(arg)) {
      pending += ' ' + imapQuoted(arg);
      continue;
    }
    conn.write(`${pending} {${Buffer.byteLength(arg, 'utf8')}}\r\n`);
    const tagged = await untilTaggedOr(conn, 'A1', true);
    if (tagged !== null) {
      conn.finish('A2 LOGOUT\r\n');
      return down('auth', `${proto} login as ${spec.user} failed: ${said(tagged)}`);
    }
    pending = arg;
  }
  conn.write(`${pending}\r\n`);
  const reply = (await untilTaggedOr(conn, 'A1', false))!;
  conn.finish('A2 LOGOUT\r\n');
  if (!/^OK\b/i.test(reply)) return down('auth', `${proto} login as ${spec.user} failed: ${said(reply)}`);
  return up(`${proto} login as ${spec.user} accepted`);
}

/**
 * Read until the reply tagged `tag` (returned without its tag) or, when `continuation`
 * is set, until a "+" continuation request (returns null). Untagged lines are skipped.
 */
async function untilTaggedOr(conn: LineConn, tag: string, continuation: boolean): Promise<string | null> {
  for (let n = 0; n < MAX_UNTAGGED; n++) {
    const line = await conn.readLine();
    if (continuation && line.startsWith('+')) return null;
    if (line.startsWith(tag + ' ')) return line.slice(tag.length + 1);
  }
  throw new LineFailure(`no tagged reply after ${MAX_UNTAGGED} lines`);
}
