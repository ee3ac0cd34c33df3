/**
 * service=nntp negotiate check (Perl check_nntp): connect, wait until the server sends
 * something (up to the deadline), take the first read of at most 64 bytes, and call the
 * server up when it starts with "2" (200 posting allowed, 201 no posting). Nothing is
 * sent: the Perl check closes without QUIT, and so does this one.
 */
import { createConnection } from 'node:net';
import { aborted, down, failed, quoted, session, up } from './kernel';
import { defineKind, negotiateBase } from './kind';

export interface NntpSpec {
  kind: 'nntp';
  host: string;
  port: number;
  timeoutMs: number;
}

/** Perl: sysread($sock, $buf, 64). */
const READ_BYTES = 64;

export const nntp = defineKind<NntpSpec>({
  services: { nntp: 119 },
  spec: (t) => ({ kind: 'nntp', ...negotiateBase(t) }),
  run: (spec, { signal }) => {
    let connected = false;
    return session(
      signal,
      (settle) => {
        const sock = createConnection({ host: spec.host, port: spec.port });
        sock.once('connect', () => (connected = true));
        sock.once('data', (chunk: Buffer) => {
          const greeting = chunk.subarray(0, READ_BYTES).toString('latin1');
          const line = greeting.replace(/\r?\n[\s\S]*$/, '');
          if (greeting.startsWith('2')) settle(up(`NNTP greeting ${quoted(line)}`));
          else settle(down('status', `NNTP greeting: expected 2xx, got ${quoted(line)}`));
        });
        sock.once('error', (e) => settle(failed(e, connected ? 'NNTP greeting: ' : 'connect ')));
        sock.once('end', () =>
          settle(down('closed', 'NNTP greeting: connection closed by server before sending anything')),
        );
        return () => sock.destroy();
      },
      () => aborted(signal, connected ? 'NNTP greeting: ' : 'connect: '),
    );
  },
});
