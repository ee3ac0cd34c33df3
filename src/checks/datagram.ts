/**
 * One request and its answer over UDP, for the datagram checks (DNS, RADIUS, SIP,
 * simpletcp over UDP): a connected socket (replies come only from the real, and an ICMP
 * port-unreachable surfaces as ECONNREFUSED), the request built once the local address is
 * known, sent again after `firstMs` and then at doubling intervals up to `maxMs` (a lost
 * datagram is not a failure), until `accept` takes an answer, an error, or the signal.
 */
import { createSocket } from 'node:dgram';
import { isIPv6, type AddressInfo } from 'node:net';
import { session } from './kernel';

export interface DatagramExchange<T> {
  host: string;
  port: number;
  signal: AbortSignal;
  /** The request, once the socket knows its local address (RADIUS and SIP name it). */
  request(local: AddressInfo): Buffer;
  /** Resend schedule; null sends once. */
  retransmit: { firstMs: number; maxMs: number } | null;
  /** What an arriving datagram means: a result, or undefined to keep waiting. */
  accept(msg: Buffer): T | undefined;
  /** The result for a socket error or a request that cannot be built. */
  failed(e: unknown): T;
  /** The result when the signal ends the exchange. */
  aborted(): T;
}

export function datagramExchange<T>(x: DatagramExchange<T>): Promise<T> {
  return session<T>(
    x.signal,
    (settle) => {
      const sock = createSocket(isIPv6(x.host) ? 'udp6' : 'udp4');
      let timer: NodeJS.Timeout | undefined;
      let closed = false;
      sock.on('error', (e) => settle(x.failed(e)));
      sock.on('message', (msg: Buffer) => {
        const r = x.accept(msg);
        if (r !== undefined) settle(r);
      });
      // Node calls the connect callback with the error on failure (its type says no argument).
      sock.connect(x.port, x.host, ((e?: Error) => {
        if (e) return settle(x.failed(e));
        let request: Buffer;
        try {
          request = x.request(sock.address());
        } catch (err) {
          return settle(x.failed(err));
        }
        let wait = x.retransmit?.firstMs ?? 0;
        const send = () => {
          if (closed) return;
          sock.send(request, (err) => err && settle(x.failed(err)));
          if (!x.retransmit) return;
          timer = setTimeout(send, wait);
          wait = Math.min(wait * 2, x.retransmit.maxMs);
        };
        send();
      }) as () => void);
      return () => {
        closed = true;
        if (timer) clearTimeout(timer);
        sock.close();
      };
    },
    x.aborted,
    x.failed,
  );
}
