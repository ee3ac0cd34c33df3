/**
 * A line-oriented TCP (or TLS) conversation for the text-protocol checks (SMTP, POP3,
 * IMAP, NNTP): connect, read CRLF lines, write commands, and stop at the check's
 * AbortSignal. Every failure is a LineFailure whose message is a short reason
 * (`connect ECONNREFUSED`, `connection closed by server`, `timed out after 2 s`), which
 * the check prefixes with the protocol step it was in.
 *
 * Lines are returned as byte strings (latin1, one char per byte), as the Perl modules saw
 * them; show() turns one into something safe to put in a reason.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { abortText, codeText, down, errorCause, type Cause, type Verdict } from './kernel';

/** A failure whose message is already a reason, with its cause. */
export class LineFailure extends Error {
  constructor(
    message: string,
    readonly category: Cause = 'protocol',
  ) {
    super(message);
  }
}

/** Longest line accepted from a server (a greeting or reply line is far shorter). */
const MAX_LINE = 8192;
/** How long a finished conversation may take to say goodbye before it is cut. */
const GOODBYE_MS = 2000;

export interface LineConn {
  /** The next line without its CR LF; rejects with a LineFailure. */
  readLine(): Promise<string>;
  /** Write text (UTF-8) as is: the caller adds CR LF. */
  write(text: string): void;
  /**
   * End the conversation politely: write `last` (e.g. `QUIT\r\n`), half-close, and give
   * the server a moment to close before the socket is destroyed. Never waits.
   */
  finish(last?: string): void;
  /** Tear the socket down now. Idempotent. */
  destroy(): void;
}

export interface LineConnOptions {
  host: string;
  port: number;
  /** TLS from the first byte (pops, imaps); the certificate is not verified. */
  tls?: boolean;
  signal: AbortSignal;
}

/** Connect and resolve once the socket (and TLS handshake) is ready. */
export function openLineConn(opts: LineConnOptions): Promise<LineConn> {
  const { signal } = opts;
  return new Promise((resolveOpen, rejectOpen) => {
    if (signal.aborted) return rejectOpen(new LineFailure(`connect: ${abortText(signal)}`, 'timeout'));
    const sock: Socket = opts.tls
      ? tlsConnect({
          host: opts.host,
          port: opts.port,
          // Mail servers behind a director commonly use self-signed certificates; the
          // check is about the service answering, not about who signed its certificate.
          rejectUnauthorized: false,
          // SNI only for names: an IP literal as servername is refused by RFC 6066.
          ...(isIP(opts.host) ? {} : { servername: opts.host }),
        })
      : netConnect({ host: opts.host, port: opts.port });

    let open = false;
    let tcpUp = false;
    let failure: LineFailure | null = null;
    let buf: Buffer = Buffer.alloc(0);
    let waiter: { resolve: (l: string) => void; reject: (e: LineFailure) => void } | null = null;
    let goodbye: NodeJS.Timeout | undefined;
    let finished = false;

    const fail = (f: LineFailure) => {
      if (!failure) failure = f;
      if (!open) rejectOpen(failure);
      const w = waiter;
      waiter = null;
      w?.reject(failure);
    };
    const destroy = () => {
      signal.removeEventListener('abort', onAbort);
      if (goodbye) clearTimeout(goodbye);
      sock.destroy();
    };
    const onAbort = () => {
      const msg = abortText(signal);
      const cause = msg === 'stopped' ? 'stopped' : 'timeout';
      fail(new LineFailure(open ? msg : opts.tls && tcpUp ? `TLS handshake: ${msg}` : `connect: ${msg}`, cause));
      destroy();
    };
    signal.addEventListener('abort', onAbort, { once: true });

    // Take one complete line out of the buffer, if there is one.
    const takeLine = (): string | null => {
      const nl = buf.indexOf(0x0a);
      if (nl < 0) return null;
      const end = nl > 0 && buf[nl - 1] === 0x0d ? nl - 1 : nl;
      const line = buf.subarray(0, end).toString('latin1');
      buf = buf.subarray(nl + 1);
      return line;
    };
    const pump = () => {
      if (!waiter) return;
      const line = takeLine();
      if (line !== null) {
        const w = waiter;
        waiter = null;
        w.resolve(line);
      } else if (buf.length > MAX_LINE) {
        fail(new LineFailure(`line longer than ${MAX_LINE} bytes`));
        destroy();
      } else if (failure) {
        fail(failure);
      }
    };

    sock.once('connect', () => {
      tcpUp = true;
    });
    sock.once(opts.tls ? 'secureConnect' : 'connect', () => {
      open = true;
      resolveOpen(conn);
    });
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (buf.length > 4 * MAX_LINE && !waiter) {
        // A server flooding us between our reads; nothing legitimate is that long.
        fail(new LineFailure(`server sent more than ${4 * MAX_LINE} bytes unasked`));
        destroy();
        return;
      }
      pump();
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const what = codeText(e);
      if (open) fail(new LineFailure(what, errorCause(e)));
      else if (opts.tls && tcpUp) fail(new LineFailure(`TLS handshake ${what}`, 'tls'));
      else fail(new LineFailure(`connect ${what}`, errorCause(e)));
      destroy();
    });
    sock.on('close', () => {
      fail(new LineFailure(open ? 'connection closed by server' : 'connect: connection closed', 'closed'));
      destroy();
    });

    const conn: LineConn = {
      readLine() {
        return new Promise((resolve, reject) => {
          if (waiter) return reject(new LineFailure('internal: concurrent reads'));
          waiter = { resolve, reject };
          pump();
        });
      },
      write(text) {
        if (!failure && !sock.destroyed) sock.write(text, 'utf8');
      },
      finish(last) {
        if (finished) return;
        finished = true;
        // From here on a close or an error is expected and no longer a failure.
        if (!failure) failure = new LineFailure('conversation finished');
        signal.removeEventListener('abort', onAbort);
        if (sock.destroyed) return;
        if (last) sock.end(last, 'utf8');
        else sock.end();
        goodbye = setTimeout(() => sock.destroy(), GOODBYE_MS);
        goodbye.unref();
      },
      destroy() {
        if (!failure) failure = new LineFailure('conversation finished');
        destroy();
      },
    };
  });
}

/** The verdict for a failed conversation: its reason after `prefix`, with its cause. */
export function lineVerdict(e: unknown, prefix = ''): Verdict {
  if (e instanceof LineFailure) return down(e.category, prefix + e.message);
  return down(errorCause(e), prefix + codeText(e));
}
