/**
 * checktype=connect: a TCP connect to the check port (Perl check_connect). Up when the
 * three-way handshake completes; the socket is closed at once.
 * A UDP "connect" (checktype=N on a UDP virtual) connects a datagram socket, which, as
 * in Perl, fails only when there is no route.
 */
import { createConnection, isIPv6 } from 'node:net';
import { createSocket } from 'node:dgram';
import { abortText, endOnce } from './ending';
import type { Check, ConnectSpec } from './types';

type Result = { up: boolean; reason: string };

export const checkConnect: Check<ConnectSpec> = (spec, { signal }) =>
  spec.udp ? udpConnect(spec, signal) : tcpConnect(spec, signal);

function tcpConnect(spec: ConnectSpec, signal: AbortSignal): Promise<Result> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: spec.host, port: spec.port });
    const done = (up: boolean, reason: string) => end() && resolve({ up, reason });
    const end = endOnce(
      signal,
      () => sock.destroy(),
      () => done(false, abortText(signal)),
    );
    sock.once('connect', () => done(true, `connected to port ${spec.port}`));
    sock.once('error', (e: NodeJS.ErrnoException) => done(false, `connect ${e.code ?? e.message}`));
  });
}

function udpConnect(spec: ConnectSpec, signal: AbortSignal): Promise<Result> {
  return new Promise((resolve) => {
    const sock = createSocket(isIPv6(spec.host) ? 'udp6' : 'udp4');
    const done = (up: boolean, reason: string) => end() && resolve({ up, reason });
    const end = endOnce(
      signal,
      () => sock.close(),
      () => done(false, abortText(signal)),
    );
    sock.once('error', (e: NodeJS.ErrnoException) => done(false, `udp connect ${e.code ?? e.message}`));
    // Node hands a failed connect (no route, bad address) to this callback as its argument.
    sock.connect(spec.port, spec.host, (err?: Error) => {
      if (err) done(false, `udp connect ${(err as NodeJS.ErrnoException).code ?? err.message}`);
      else done(true, `udp socket connected to port ${spec.port}`);
    });
  });
}
