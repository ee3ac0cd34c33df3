/**
 * service=ftp negotiate check (Perl check_ftp with Net::FTP): connect, log in, CWD /,
 * TYPE I, passive mode, RETR the request (the path with its leading '/'), QUIT. Up when
 * the downloaded content matches `receive` (a Perl regex on bytes, unanchored); with a
 * null receive (empty in the config), up when the file was fetched.
 *
 * An empty `login` logs in as `anonymous`, as Net::FTP does; an anonymous login with an
 * empty `passwd` sends Net::FTP's default anonymous password `-anonymous@`.
 * At most 1 MiB is downloaded: a larger file is cut there and the first 1 MiB is matched.
 *
 * The protocol is basic-ftp's (maintained, typed, EPSV/PASV, IPv6); this module only
 * sequences the steps, enforces the deadline by closing the client, and words the reason.
 * The password never reaches a reason: server text is scrubbed of it before it is shown.
 */
import { Writable } from 'node:stream';
import type { Client, FTPError } from 'basic-ftp';
import { Budget, abortText, codeText, down, errorCause, quoted, scrub, up, type Verdict } from './kernel';
import { defineKind, negotiateBase, type Receive } from './kind';

export interface FtpSpec {
  kind: 'ftp';
  host: string;
  port: number;
  user: string;
  password: string;
  /** File to fetch: the request as written, with its leading '/' (Perl: get($$r{request})). */
  path: string;
  receive: Receive | null;
  timeoutMs: number;
}

/** Download cap. */
export const MAX_DOWNLOAD = 1024 * 1024;

/** basic-ftp, loaded the first time an FTP check runs. */
const load = () => import('basic-ftp');
let basicFtp: Awaited<ReturnType<typeof load>> | undefined;

export const ftp = defineKind<FtpSpec>({
  services: { ftp: 21 },
  preload: async () => (basicFtp ??= await load()),
  usesReceive: true,
  spec: (t) => ({
    kind: 'ftp',
    ...negotiateBase(t),
    user: t.login,
    password: t.passwd,
    path: t.request,
    receive: t.receive,
  }),
  async run(spec, { signal }): Promise<Verdict> {
    if ([spec.user, spec.password, spec.path].some((v) => /[\r\n\0]/.test(v))) {
      return down('error', 'FTP: login, passwd or request contains a line break or NUL, refusing to send it');
    }
    if (signal.aborted) return down('timeout', `connect: ${abortText(signal)}`);
    basicFtp ??= await load();
    // No inactivity timeout of its own: the check's deadline (signal) bounds everything.
    const client: Client = new basicFtp.Client(0);
    const onAbort = () => client.close();
    signal.addEventListener('abort', onAbort, { once: true });

    const user = spec.user === '' ? 'anonymous' : spec.user;
    const password = spec.password === '' && user === 'anonymous' ? '-anonymous@' : spec.password;
    // Server text in a reason is quoted and scrubbed of the password.
    const said = (text: string, max?: number) => quoted(scrub(text, spec.password), max);
    let step = 'connect';
    const body = new Budget(MAX_DOWNLOAD);
    try {
      const greeted = client.connect(spec.host, spec.port);
      // connect() resolves on the server's greeting; tell a hung TCP connect from a
      // server that accepted and never greets.
      client.ftp.socket.once('connect', () => {
        if (step === 'connect') step = 'greeting';
      });
      await greeted;
      step = `login as ${user}`;
      await client.login(user, password);
      step = 'CWD /';
      await client.cd('/');
      step = 'TYPE I';
      await client.send('TYPE I');
      step = `RETR ${spec.path}`;
      const sink = new Writable({
        write(chunk: Buffer, _enc, callback) {
          // Enough: stop the transfer (the download then rejects, which is expected).
          if (!body.add(chunk)) client.close();
          callback();
        },
      });
      try {
        await client.downloadTo(sink, spec.path);
      } catch (e) {
        if (!body.full || signal.aborted) throw e;
      }
    } catch (e) {
      const isFtp = (e as FTPError)?.name === 'FTPError' || e instanceof basicFtp.FTPError;
      const reason = signal.aborted ? abortText(signal) : isFtp ? said((e as Error).message.trim()) : codeText(e);
      const cause = signal.aborted ? 'timeout' : isFtp ? (step.startsWith('login') ? 'auth' : 'status') : errorCause(e);
      return down(
        cause,
        step === 'connect' ? `connect${signal.aborted ? ':' : ''} ${reason}` : `FTP ${step}: ${reason}`,
      );
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (!client.closed) {
        // Say goodbye without waiting for the answer, then let go of the sockets.
        client.ftp.socket.end('QUIT\r\n');
        setTimeout(() => client.close(), 2000).unref();
      }
    }

    const content = body.bytes().toString('latin1');
    const what = `FTP RETR ${spec.path}: ${body.full ? `first ${MAX_DOWNLOAD} bytes` : `${body.size} bytes`}`;
    if (spec.receive === null) return up(`${what} fetched`);
    if (spec.receive.test(content)) return up(`${what}, receive matched`);
    return down('mismatch', `${what}, receive did not match; got ${said(content, 60)}`);
  },
});
