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
import { Client, FTPError } from 'basic-ftp';
import { scrub, show } from './line-conn';
import type { Check, FtpSpec } from './types';

/** Download cap. */
export const MAX_DOWNLOAD = 1024 * 1024;

export const checkFtp: Check<FtpSpec> = async (spec, { signal }) => {
  const why = () => (signal.reason as Error | undefined)?.message ?? 'aborted';
  if ([spec.user, spec.password, spec.path].some((v) => /[\r\n\0]/.test(v))) {
    return { up: false, reason: 'FTP: login, passwd or request contains a line break or NUL, refusing to send it' };
  }
  if (signal.aborted) return { up: false, reason: `connect: ${why()}` };
  // No inactivity timeout of its own: the check's deadline (signal) bounds everything.
  const client = new Client(0);
  const onAbort = () => client.close();
  signal.addEventListener('abort', onAbort, { once: true });

  const user = spec.user === '' ? 'anonymous' : spec.user;
  const password = spec.password === '' && user === 'anonymous' ? '-anonymous@' : spec.password;
  // Server text in a reason is quoted and scrubbed of the password.
  const said = (text: string, max?: number) => show(scrub(text, spec.password), max);
  let step = 'connect';
  const chunks: Buffer[] = [];
  let size = 0;
  let cut = false;
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
        const room = MAX_DOWNLOAD - size;
        if (chunk.length > room) {
          chunks.push(chunk.subarray(0, room));
          size += room;
          cut = true;
          // Enough: stop the transfer (the download then rejects, which is expected).
          client.close();
        } else {
          chunks.push(chunk);
          size += chunk.length;
        }
        callback();
      },
    });
    try {
      await client.downloadTo(sink, spec.path);
    } catch (e) {
      if (!cut || signal.aborted) throw e;
    }
  } catch (e) {
    const reason = signal.aborted ? why() : e instanceof FTPError ? said(e.message.trim()) : errText(e);
    return {
      up: false,
      reason: step === 'connect' ? `connect${signal.aborted ? ':' : ''} ${reason}` : `FTP ${step}: ${reason}`,
    };
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (!client.closed) {
      // Say goodbye without waiting for the answer, then let go of the sockets.
      client.ftp.socket.end('QUIT\r\n');
      setTimeout(() => client.close(), 2000).unref();
    }
  }

  const content = Buffer.concat(chunks).toString('latin1');
  const what = `FTP RETR ${spec.path}: ${cut ? `first ${MAX_DOWNLOAD} bytes` : `${size} bytes`}`;
  if (spec.receive === null) return { up: true, reason: `${what} fetched` };
  if (spec.receive.test(content)) return { up: true, reason: `${what}, receive matched` };
  return { up: false, reason: `${what}, receive did not match; got ${said(content, 60)}` };
};

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object') return err.code ?? String(err.message);
  return String(e);
}
