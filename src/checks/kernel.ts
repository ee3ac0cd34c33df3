/**
 * The check kernel: what every check kind shares, written once.
 *
 *   - the result: a Verdict is up or down, a typed Cause (refused, timeout, status,
 *     mismatch, tls, …) that status, metrics and alerts can act on, and a human reason;
 *   - error mapping: an errno-style error becomes a cause and a short text
 *     (`connect ECONNREFUSED`), in one place;
 *   - the end of a dialogue: `session()` settles a check exactly once, whatever comes
 *     first (an answer, an error, the deadline's abort), and releases its socket or child
 *     then;
 *   - the byte budget: `Budget` collects what a real sends as Buffers up to a cap, so no
 *     server can make a check hold more than that;
 *   - the reason a deadline gives (`timed out after 2 s`), and the text of outside bytes in
 *     a reason (quoted, bounded, control characters escaped: text/untrusted.ts).
 *
 * A check kind is then its protocol's dialogue and nothing else (checks/<kind>.ts). The
 * deadline itself, the pool of abort controllers and the final cut of every reason are
 * the runner's (run.ts).
 */

/** Why a check ended the way it did. */
export type Cause =
  /** The check passed. */
  | 'ok'
  /** The connection was refused (nothing listens, or a firewall rejects). */
  | 'refused'
  /** No route to the real, or no answer to the connect at all. */
  | 'unreachable'
  /** The check's deadline passed. */
  | 'timeout'
  /** The server closed or reset the connection in the middle of the dialogue. */
  | 'closed'
  /** The TLS handshake failed or the certificate was refused. */
  | 'tls'
  /** The server answered with a status that means "not healthy" (HTTP 503, Access-Reject, SERVING=no). */
  | 'status'
  /** The answer did not match `receive` (or returned no rows). */
  | 'mismatch'
  /** The login was refused. */
  | 'auth'
  /** The server spoke something else, too much, or malformed. */
  | 'protocol'
  /** An external command could not run, or exited non-zero. */
  | 'exec'
  /** Forced down by a maintenance file. */
  | 'maintenance'
  /** The daemon stopped the check. */
  | 'stopped'
  /** Anything else (a local error). */
  | 'error';

export interface Verdict {
  up: boolean;
  cause: Cause;
  /** Short human text: `HTTP 200 OK`, `connect ECONNREFUSED`, `timed out after 2 s`. Never a secret. */
  reason: string;
}

export interface CheckResult extends Verdict {
  /** Wall time the check took, in milliseconds. */
  ms: number;
}

export const up = (reason: string): Verdict => ({ up: true, cause: 'ok', reason });
export const down = (cause: Cause, reason: string): Verdict => ({ up: false, cause, reason });

/** What a check runs with. */
export interface CheckContext {
  /** Aborted at the check's deadline or when the daemon stops; its reason is the text to give. */
  signal: AbortSignal;
  /**
   * The runner's direct line to a check that is over (runProbe gives it): `fn` is called
   * once the signal is aborted. Equivalent to an abort listener without adding one to the
   * signal, which at 10,000 checks a second is a measurable share of the garbage. A check
   * may register one hook, for its current run only.
   */
  onAbort?: (fn: (reason: Error) => void) => void;
}

/** `2 s`, `1.5 s`. */
export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

/** `timed out after 2 s`: the reason of every check that hits its deadline. */
export function timeoutReason(ms: number): string {
  return `timed out after ${formatSeconds(ms)}`;
}

/** The reason the runner put on an aborted signal (`timed out after 2 s`, `stopped`). */
export function abortText(signal: AbortSignal): string {
  return (signal.reason as Error | undefined)?.message ?? 'aborted';
}

/** The verdict of a check ended by its signal: the deadline, or the daemon stopping. */
export function aborted(signal: AbortSignal, prefix = ''): Verdict {
  const text = abortText(signal);
  return down(text === 'stopped' ? 'stopped' : 'timeout', prefix ? `${prefix}${text}` : text);
}

const REFUSED = new Set(['ECONNREFUSED', 'ECONNRESET_CONNECT']);
const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTDOWN']);
const CLOSED = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE']);

/** The cause an error means, from its code. */
export function errorCause(e: unknown): Cause {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (!code) return 'error';
  if (REFUSED.has(code)) return 'refused';
  if (UNREACHABLE.has(code)) return 'unreachable';
  if (CLOSED.has(code)) return 'closed';
  if (code === 'ETIMEDOUT') return 'timeout';
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT')) return 'tls';
  return 'error';
}

/** An error's code (`ECONNREFUSED`), else the first line of its message. */
export function codeText(e: unknown): string {
  const err = e as NodeJS.ErrnoException | undefined;
  if (err && typeof err === 'object') return err.code ?? String(err.message).split('\n')[0]!;
  return String(e);
}

/** An error's short text: `connect ECONNREFUSED` (its syscall and code), else its first line. */
export function errorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException | undefined;
  return err?.code && err.syscall ? `${err.syscall} ${err.code}` : codeText(e);
}

/**
 * A down verdict for an error, with its cause: `prefix` and the error's code
 * (`connect ECONNREFUSED`), or without a prefix the error's own syscall and code.
 */
export function failed(e: unknown, prefix = ''): Verdict {
  return down(errorCause(e), prefix ? prefix + codeText(e) : errorText(e));
}

/**
 * One check's dialogue, settled exactly once. `body` wires its socket or child and
 * calls `settle(v)` with the verdict; it returns the function that releases what it holds
 * (destroy the socket, clear a timer), run once, at the first settle. An abort of `signal`
 * settles with `onAbort()`.
 */
export function session<T = Verdict>(
  signal: AbortSignal,
  body: (settle: (v: T) => void) => () => void,
  onAbort: () => T,
  onThrow: (e: unknown) => T = (e) => failed(e, 'connect ') as T,
): Promise<T> {
  return new Promise<T>((resolve) => {
    let release: (() => void) | null = null;
    let done = false;
    const abort = () => settle(onAbort());
    const settle = (v: T) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', abort);
      release?.();
      resolve(v);
    };
    if (signal.aborted) {
      resolve(onAbort());
      return;
    }
    signal.addEventListener('abort', abort, { once: true });
    try {
      release = body(settle);
    } catch (e) {
      // A socket that cannot even be created (a bad port) throws here.
      settle(onThrow(e));
    }
    if (done) release?.();
  });
}

/** The most a check reads from a real unless its kind asks for less: 1 MiB. */
export const READ_CAP = 1024 * 1024;

/**
 * Bytes a real sent, kept as Buffers up to a cap. `add` returns false once more than the
 * cap was offered (the rest is dropped and `full` set), so the caller stops reading.
 */
export class Budget {
  private readonly chunks: Buffer[] = [];
  /** Bytes kept (at most the cap). */
  size = 0;
  /** Bytes offered, kept or not. */
  seen = 0;
  full = false;

  constructor(readonly cap = READ_CAP) {}

  add(chunk: Buffer): boolean {
    this.seen += chunk.length;
    if (this.full) return false;
    const room = this.cap - this.size;
    if (chunk.length > room) {
      if (room > 0) this.chunks.push(chunk.subarray(0, room));
      this.size = this.cap;
      this.full = true;
      return false;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    return true;
  }

  bytes(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
  }
}

/** `512 B`, `2 KiB`, `1.5 KiB`, `1 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const [v, unit] = n < 1024 * 1024 ? [n / 1024, 'KiB'] : [n / (1024 * 1024), 'MiB'];
  return `${v < 10 && Math.round(v * 10) % 10 !== 0 ? v.toFixed(1) : Math.round(v)} ${unit}`;
}

/** Remove a secret from outside text before it can become part of a reason. */
export function scrub(text: string, secret: string): string {
  return secret ? text.split(secret).join('***') : text;
}

export { quoted, inert } from '../text/untrusted';
