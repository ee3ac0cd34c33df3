/**
 * service=nntp negotiate check (Perl check_nntp): connect, wait until the server sends
 * something (up to the deadline), take the first read of at most 64 bytes, and call the
 * server up when it starts with "2" (200 posting allowed, 201 no posting). Nothing is
 * sent: the Perl check closes without QUIT, and so does this one.
 */
import { createConnection } from 'node:net';
import { show } from './line-conn';
import type { Check, NntpSpec } from './types';

/** Perl: sysread($sock, $buf, 64). */
const READ_BYTES = 64;

export const checkNntp: Check<NntpSpec> = (spec, { signal }) =>
  new Promise((resolve) => {
    let connected = false;
    const sock = createConnection({ host: spec.host, port: spec.port });
    const done = (up: boolean, reason: string) => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve({ up, reason });
    };
    const onAbort = () => {
      const why = (signal.reason as Error | undefined)?.message ?? 'aborted';
      done(false, connected ? `NNTP greeting: ${why}` : `connect: ${why}`);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => {
      connected = true;
    });
    sock.once('data', (chunk: Buffer) => {
      const greeting = chunk.subarray(0, READ_BYTES).toString('latin1');
      const line = greeting.replace(/\r?\n[\s\S]*$/, '');
      if (greeting.startsWith('2')) done(true, `NNTP greeting ${show(line)}`);
      else done(false, `NNTP greeting: expected 2xx, got ${show(line)}`);
    });
    sock.once('error', (e: NodeJS.ErrnoException) =>
      done(false, connected ? `NNTP greeting: ${e.code ?? e.message}` : `connect ${e.code ?? e.message}`),
    );
    sock.once('end', () => done(false, 'NNTP greeting: connection closed by server before sending anything'));
  });
