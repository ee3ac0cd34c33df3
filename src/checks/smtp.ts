/**
 * service=smtp and service=submission negotiate checks (Perl check_smtp, which is
 * `Net::SMTP->new`): connect, read the greeting, say EHLO (HELO when EHLO is refused
 * with a 5xx, as Net::SMTP's hello does), then QUIT. Up when the greeting is 2xx and
 * EHLO or HELO is accepted with a 2xx. The hello name is Net::SMTP's default,
 * `localhost.localdomain`.
 */
import { down, quoted, up } from './kernel';
import { defineKind, negotiateBase } from './kind';
import { LineFailure, lineVerdict, openLineConn, type LineConn } from './line-conn';

export interface SmtpSpec {
  kind: 'smtp';
  host: string;
  port: number;
  timeoutMs: number;
}

const HELLO_NAME = 'localhost.localdomain';
/** Continuation lines accepted in one reply (EHLO lists a dozen extensions or so). */
const MAX_REPLY_LINES = 100;

interface Reply {
  code: number;
  /** The first line, for reasons. */
  first: string;
}

/** Read one (possibly multi-line) SMTP reply: `250-…` lines, then `250 …`. */
async function readReply(conn: LineConn): Promise<Reply> {
  let first: string | null = null;
  for (let n = 0; n < MAX_REPLY_LINES; n++) {
    const line = await conn.readLine();
    const m = /^(\d{3})(?:([ -])|$)/.exec(line);
    if (!m) throw new LineFailure(`expected an SMTP reply, got ${quoted(line)}`);
    first ??= line;
    if (m[2] !== '-') return { code: Number(m[1]), first };
  }
  throw new LineFailure(`reply longer than ${MAX_REPLY_LINES} lines`);
}

const ok = (r: Reply) => r.code >= 200 && r.code < 300;

export const smtp = defineKind<SmtpSpec>({
  services: { smtp: 25, submission: 587 },
  spec: (t) => ({ kind: 'smtp', ...negotiateBase(t) }),
  async run(spec, { signal }) {
    let step = 'connect';
    let conn: LineConn | undefined;
    try {
      conn = await openLineConn({ host: spec.host, port: spec.port, signal });
      step = 'greeting';
      const greeting = await readReply(conn);
      if (!ok(greeting)) return down('status', `SMTP greeting: expected 2xx, got ${quoted(greeting.first)}`);

      step = 'EHLO';
      conn.write(`EHLO ${HELLO_NAME}\r\n`);
      let hello = await readReply(conn);
      let how = `EHLO ${hello.code}`;
      if (hello.code >= 500 && hello.code < 600) {
        step = 'HELO';
        const refused = hello;
        conn.write(`HELO ${HELLO_NAME}\r\n`);
        hello = await readReply(conn);
        how = `HELO ${hello.code} (EHLO refused with ${refused.code})`;
      }
      conn.finish('QUIT\r\n');
      if (!ok(hello)) return down('status', `SMTP ${step}: expected 2xx, got ${quoted(hello.first)}`);
      return up(`SMTP greeting ${greeting.code}, ${how}`);
    } catch (e) {
      return lineVerdict(e, step === 'connect' ? '' : `SMTP ${step}: `);
    } finally {
      conn?.finish();
    }
  },
});
