/**
 * One HTTP/1.1 request on a connection of its own, read with a bounded parser: the
 * common health check (a GET, a status, a receive pattern), as cheap as it can be.
 *
 * A connection per check is what the original did (LWP with `Connection: close`) and what
 * proves at every check that the real still accepts new connections: a server whose
 * listener is gone but whose open connections are still served is down at its next check.
 *
 * Bounds: the head (status line and headers) is at most HEAD_MAX bytes; the body is given
 * to the caller chunk by chunk as it arrives and never kept here, and the caller says when
 * it has seen enough (a receive matched, its cap reached): the connection is closed then.
 * Chunked, Content-Length and close-delimited bodies, 1xx interim answers, HEAD, 204 and
 * 304 are read as HTTP/1.1 says. The work on each chunk is charged to the event loop's
 * fair share (fairness.ts): a server that sends a lot waits its turn.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { STATUS_CODES } from 'node:http';
import { FairReader } from './fairness';
import { codeText, inert, type Cause, type CheckContext } from './kernel';

/** Where plain TCP reads land (see http1()); nothing keeps a view of it past a read. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** The most a status line and headers may take. */
export const HEAD_MAX = 64 * 1024;

export interface Http1Request {
  host: string;
  port: number;
  /** TLS options (https), or null for plain HTTP. */
  tls: ConnectionOptions | null;
  /** The request's bytes, prepared once: request line and headers. */
  bytes: Buffer;
  /** A HEAD request: the answer has no body. */
  head: boolean;
}

export interface Http1Response {
  status: number;
  /** `HTTP 200 OK`, with the server's own phrase when it gives another (bounded, inert). */
  statusLine: string;
  location: string | undefined;
  /** Body bytes received (whether or not the caller wanted all of them). */
  bytes: number;
  /** The caller stopped the body early (it had seen enough). */
  stopped: boolean;
}

/** A failure, with how far the exchange got (for the reason) and its cause. */
export class Http1Failure extends Error {
  constructor(
    message: string,
    readonly category: Cause,
  ) {
    super(message);
  }
}

/** What the caller does with the body: `true` to read on, `false` once it has seen enough. */
export type BodySink = (chunk: Buffer) => boolean;

const TCP_CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
  'EADDRINUSE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EACCES',
  'EPERM',
  'EINVAL',
]);

/** `HTTP 200 OK`: one string per status for the usual phrases, not one per check. */
const STATUS_LINES = new Map<number, string>();
function statusLineOf(status: number, phrase: string): string {
  const standard = STATUS_CODES[status];
  if (phrase && phrase !== standard) return `HTTP ${status} ${inert(phrase, 100)}`;
  let line = STATUS_LINES.get(status);
  if (line === undefined) STATUS_LINES.set(status, (line = `HTTP ${status} ${standard ?? 'Unknown code'}`));
  return line;
}

const enum Phase {
  Connect,
  Head,
  Body,
  Done,
}

const CRLF2 = Buffer.from('\r\n\r\n');
const LF2 = Buffer.from('\n\n');

/**
 * Send `req` on a new connection and read the answer. Once the head is in, `bodyOf(res)`
 * says who reads the body: a sink, or null when the body does not matter (the connection
 * is closed at once). HEAD, 204 and 304 answers have none. Rejects with Http1Failure; at
 * the abort of `ctx`'s signal it rejects with the signal's reason and the connection is
 * destroyed.
 */
export function http1(
  req: Http1Request,
  ctx: CheckContext,
  bodyOf: (res: Http1Response) => BodySink | null,
): Promise<Http1Response> {
  const signal = ctx.signal;
  return new Promise((resolve, reject) => {
    // Plain TCP reads land in one shared buffer (no allocation per read: a real sending an
    // endless body costs no garbage); every chunk is worked on before the next read.
    const sock: Socket = req.tls
      ? tlsConnect({ host: req.host, port: req.port, ...req.tls })
      : netConnect({
          port: req.port,
          host: req.host,
          onread: {
            buffer: READ_BUFFER,
            callback: (n, buf) => {
              reader.push(Buffer.from(buf.buffer, buf.byteOffset, n));
              return true;
            },
          },
        });
    // Chunks are worked on within the event loop's fair share, in order; the end of the
    // stream is acted on after the last of them.
    const reader = new FairReader(sock, (chunk) => {
      if (phase === Phase.Head) feedHead(chunk);
      else if (phase === Phase.Body) feedBody(chunk);
    });
    let phase = Phase.Connect;
    let tcpUp = false;
    const head = new HeadBuffer();
    let res: Http1Response | null = null;
    /** Body framing: bytes left (Content-Length), or a chunked decoder, or read to close. */
    let left = -1;
    let chunked: Chunked | null = null;
    let sink: BodySink | null = null;

    const finish = (err: Http1Failure | null) => {
      if (phase === Phase.Done) return;
      phase = Phase.Done;
      reader.close();
      if (!ctx.onAbort) signal.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    const onAbort = () =>
      finish(new Http1Failure((signal.reason as Error | undefined)?.message ?? 'aborted', 'timeout'));
    if (signal.aborted) return onAbort();
    // The runner's direct hook when there is one: a listener on the signal costs an
    // EventTarget dispatch setup per check, a measurable share of a check's CPU.
    if (ctx.onAbort) ctx.onAbort(onAbort);
    else signal.addEventListener('abort', onAbort, { once: true });

    const body = (chunk: Buffer): void => {
      if (!res || chunk.length === 0) return;
      res.bytes += chunk.length;
      if (!sink!(chunk)) {
        res.stopped = true;
        finish(null);
      }
    };

    const startBody = (text: string, rest: Buffer): void => {
      const r = res!;
      const headers = headerMap(text);
      r.location = headers.get('location');
      const te = headers.get('transfer-encoding');
      const cl = headers.get('content-length');
      if (req.head || r.status === 204 || r.status === 304) return finish(null);
      sink = bodyOf(r);
      if (!sink) return finish(null);
      if (te && /chunked/i.test(te)) chunked = new Chunked();
      else if (cl !== undefined) {
        if (!/^\d+$/.test(cl.trim()))
          return finish(new Http1Failure('invalid HTTP response (Content-Length)', 'protocol'));
        left = Number(cl);
      }
      phase = Phase.Body;
      if (left === 0) return finish(null);
      feedBody(rest);
    };

    const feedBody = (chunk: Buffer): void => {
      if (chunked) {
        const out = chunked.feed(chunk);
        if (out === 'error')
          return finish(
            new Http1Failure(`${res!.statusLine}, then the body failed: invalid chunked encoding`, 'protocol'),
          );
        for (const c of out.data) if (phase === Phase.Body) body(c);
        if (out.done && phase === Phase.Body) finish(null);
        return;
      }
      if (left >= 0) {
        const take = chunk.length > left ? chunk.subarray(0, left) : chunk;
        left -= take.length;
        body(take);
        if (left === 0 && phase === Phase.Body) finish(null);
        return;
      }
      body(chunk);
    };

    const feedHead = (chunk: Buffer): void => {
      let found = head.add(chunk);
      while (found) {
        const text = found.head.toString('latin1');
        const m = /^HTTP\/1\.[01] (\d{3})(?: ([^\r\n]*))?\r?(?:\n|$)/.exec(text);
        if (!m) return finish(new Http1Failure('no response: invalid HTTP response (not HTTP/1.x)', 'protocol'));
        const status = Number(m[1]);
        if (status >= 100 && status < 200 && status !== 101) {
          // An interim answer (100 Continue, 103 Early Hints): the real one follows.
          found = found.rest.length ? head.add(found.rest) : null;
          continue;
        }
        res = { status, statusLine: statusLineOf(status, m[2] ?? ''), location: undefined, bytes: 0, stopped: false };
        return startBody(text, found.rest);
      }
      if (head.length > HEAD_MAX)
        finish(new Http1Failure(`no response: headers longer than ${HEAD_MAX / 1024} KiB`, 'protocol'));
    };

    sock.once('connect', () => (tcpUp = true));
    sock.once(req.tls ? 'secureConnect' : 'connect', () => {
      phase = Phase.Head;
      sock.write(req.bytes);
    });
    if (req.tls) sock.on('data', (chunk: Buffer) => reader.push(chunk));
    sock.on('end', () => reader.end(onEnd));
    const onEnd = () => {
      if (phase === Phase.Head) finish(new Http1Failure('no response: connection closed by the server', 'closed'));
      else if (phase === Phase.Body) {
        // Read to close is a complete body; a short Content-Length or chunked body is not.
        if (left <= 0 && !chunked) finish(null);
        else
          finish(
            new Http1Failure(
              `${res!.statusLine}, then the body failed: body shorter than its Content-Length`,
              'closed',
            ),
          );
      }
    };
    // An error after the answer began is looked at after the chunks that came before it.
    sock.on('error', (e: NodeJS.ErrnoException) =>
      phase === Phase.Connect ? onError(e) : reader.end(() => onError(e)),
    );
    const onError = (e: NodeJS.ErrnoException) => {
      const code = codeText(e);
      if (phase === Phase.Connect) {
        if (req.tls && (tcpUp || !TCP_CONNECT_CODES.has(code)))
          finish(new Http1Failure(`TLS handshake failed: ${code}`, 'tls'));
        else finish(new Http1Failure(`connect ${code}`, code === 'ECONNREFUSED' ? 'refused' : 'unreachable'));
      } else if (phase === Phase.Head) {
        const what =
          code === 'ECONNRESET'
            ? 'connection reset (ECONNRESET)'
            : code === 'EPIPE'
              ? 'connection closed by the server'
              : code;
        finish(new Http1Failure(`no response: ${what}`, 'closed'));
      } else finish(new Http1Failure(`${res!.statusLine}, then the body failed: ${code}`, 'closed'));
    };
    // A close without 'end' or 'error' (a TLS socket torn down): whatever phase says.
    sock.on('close', () =>
      reader.end(() => {
        if (phase === Phase.Body && left < 0 && !chunked) finish(null);
        else if (phase !== Phase.Done)
          finish(new Http1Failure('no response: connection closed by the server', 'closed'));
      }),
    );
  });
}

/**
 * The head as it arrives, in one buffer grown by doubling (a head sent a byte at a time
 * costs linear time), searched for its end only in the new bytes.
 */
class HeadBuffer {
  private buf: Buffer | null = null;
  length = 0;

  /** Add bytes; the head and what follows it once the blank line has arrived, else null. */
  add(chunk: Buffer): { head: Buffer; rest: Buffer } | null {
    const from = Math.max(0, this.length - 3);
    if (this.buf === null && this.length === 0) {
      this.buf = chunk;
      this.length = chunk.length;
    } else {
      if (!this.buf || this.buf.length < this.length + chunk.length || this.length === this.buf.length) {
        const grown = Buffer.allocUnsafe(Math.max(1024, 2 * (this.length + chunk.length)));
        this.buf?.copy(grown, 0, 0, this.length);
        this.buf = grown;
      }
      chunk.copy(this.buf, this.length);
      this.length += chunk.length;
    }
    const all = this.buf.subarray(0, this.length);
    let end = all.indexOf(CRLF2, from);
    let sep = 4;
    const lf = all.indexOf(LF2, from);
    if (lf >= 0 && (end < 0 || lf < end)) [end, sep] = [lf, 2];
    if (end < 0) {
      // Keep only what a search needs; the first chunk is not ours to write into.
      if (this.buf === chunk) this.buf = Buffer.from(chunk);
      return null;
    }
    const found = { head: all.subarray(0, end), rest: all.subarray(end + sep) };
    this.buf = null;
    this.length = 0;
    return found;
  }
}

/** Header name (lower case) → its last value, from a head's text. */
function headerMap(head: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = head.split(/\r?\n/);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon > 0) out.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return out;
}

/** A chunked-body decoder, bounded: chunk-size lines of at most 1 KiB, trailers skipped. */
class Chunked {
  private left = 0;
  /** Reading: a size line, chunk data, the CRLF after it, or trailers. */
  private state: 'size' | 'data' | 'crlf' | 'trailer' = 'size';
  private line = '';

  feed(chunk: Buffer): { data: Buffer[]; done: boolean } | 'error' {
    const data: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'data') {
        const take = Math.min(this.left, chunk.length - i);
        data.push(chunk.subarray(i, i + take));
        i += take;
        this.left -= take;
        if (this.left === 0) this.state = 'crlf';
        continue;
      }
      const c = chunk[i++]!;
      if (c !== 10) {
        if (this.line.length > 1024) return 'error';
        this.line += String.fromCharCode(c);
        continue;
      }
      const line = this.line.replace(/\r$/, '');
      this.line = '';
      if (this.state === 'crlf') {
        if (line !== '') return 'error';
        this.state = 'size';
      } else if (this.state === 'size') {
        const m = /^([0-9A-Fa-f]+)/.exec(line);
        if (!m) return 'error';
        this.left = parseInt(m[1]!, 16);
        this.state = this.left === 0 ? 'trailer' : 'data';
      } else if (line === '') return { data, done: true };
    }
    return { data, done: false };
  }
}
