/**
 * checktype=connect: a TCP connect to the check port (Perl check_connect). Up when the
 * three-way handshake completes; the socket is closed at once.
 * A UDP "connect" (checktype=N on a UDP virtual) connects a datagram socket, which, as
 * in Perl, fails only when there is no route.
 */
import { createConnection, isIPv6 } from 'node:net';
import { createSocket } from 'node:dgram';
import { aborted, failed, session, up } from './kernel';
import { defineKind } from './kind';

export interface ConnectSpec {
  kind: 'connect';
  host: string;
  port: number;
  timeoutMs: number;
  /** UDP "connect" (only through checktype=N on a UDP virtual, as in Perl's check_connect). */
  udp?: boolean;
}

export const connect = defineKind<ConnectSpec>({
  spec: (t) => ({ kind: 'connect', host: t.host, port: t.port, timeoutMs: t.connectTimeoutMs }),
  run: (spec, { signal }) =>
    session(
      signal,
      (settle) => {
        if (spec.udp) {
          const sock = createSocket(isIPv6(spec.host) ? 'udp6' : 'udp4');
          sock.once('error', (e) => settle(failed(e, 'udp connect ')));
          // Node hands a failed connect (no route, bad address) to this callback as its argument.
          sock.connect(spec.port, spec.host, (err?: Error) =>
            settle(err ? failed(err, 'udp connect ') : up(`udp socket connected to port ${spec.port}`)),
          );
          return () => sock.close();
        }
        const sock = createConnection({ host: spec.host, port: spec.port });
        sock.once('connect', () => settle(up(`connected to port ${spec.port}`)));
        sock.once('error', (e) => settle(failed(e, 'connect ')));
        return () => sock.destroy();
      },
      () => aborted(signal),
    ),
});
