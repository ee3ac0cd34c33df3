/**
 * The benchmark's real servers: one process listening on N loopback addresses
 * (127.20.x.y:8080), answering every HTTP request with `200 OK` and a body "OK".
 * A minimal HTTP over net (not node:http) so the target is never the bottleneck; it
 * honours `Connection: close` (fresh connection per check) and keep-alive alike.
 *
 * It records the time of every request per address, which is how the benchmark measures
 * the interval between two checks of the same real without trusting the daemon, and it
 * can be told (IPC) to refuse some addresses (listener closed, connections reset), which
 * is how a real "fails".
 */
import { createServer, type Server, type Socket } from 'node:net';

export function addressOf(i: number): string {
  return `127.20.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

const RESPONSE_CLOSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK');
const RESPONSE_KEEP = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=60\r\n\r\nOK');
const RING = 32;

interface Slot {
  server: Server;
  sockets: Set<Socket>;
  times: Float64Array;
  n: number;
}

function main(): void {
  const n = Number(process.argv[2] ?? 100);
  const slots: Slot[] = [];
  let total = 0;
  let listening = 0;
  for (let i = 0; i < n; i++) {
    const slot: Slot = { server: createServer({ noDelay: true }), sockets: new Set(), times: new Float64Array(RING), n: 0 };
    slot.server.on('connection', (sock) => {
      slot.sockets.add(sock);
      sock.on('close', () => slot.sockets.delete(sock));
      sock.on('error', () => undefined);
      let buf = '';
      sock.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        let end;
        while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
          const head = buf.slice(0, end);
          buf = buf.slice(end + 4);
          slot.times[slot.n % RING] = performance.timeOrigin + performance.now();
          slot.n++;
          total++;
          if (/\r\nconnection:\s*close/i.test(head)) {
            sock.end(RESPONSE_CLOSE);
            return;
          }
          sock.write(RESPONSE_KEEP);
        }
      });
    });
    slot.server.listen({ port: 8080, host: addressOf(i), backlog: 4096 }, () => {
      if (++listening === n) process.send?.({ ready: true });
    });
    slots.push(slot);
  }
  process.on('message', (m: { cmd: string; ids?: number[]; id?: number; since?: number }) => {
    if (m.cmd === 'stats') {
      // Per address: the intervals between consecutive requests we still remember, both
      // made after `since` (the start of the steady-state window).
      const intervals: number[] = [];
      for (const s of slots) {
        const k = Math.min(s.n, RING);
        const ts: number[] = [];
        for (let j = s.n - k; j < s.n; j++) if (s.times[j % RING]! >= (m.since ?? 0)) ts.push(s.times[j % RING]!);
        for (let j = 1; j < ts.length; j++) intervals.push(ts[j]! - ts[j - 1]!);
      }
      process.send?.({ id: m.id, total, intervals, counts: slots.map((s) => s.n) });
    } else if (m.cmd === 'refuse') {
      for (const i of m.ids ?? []) {
        const s = slots[i]!;
        s.server.close();
        for (const sock of s.sockets) sock.resetAndDestroy();
      }
      process.send?.({ id: m.id, at: Date.now() });
    } else if (m.cmd === 'exit') process.exit(0);
  });
}

if (require.main === module) main();
