/**
 * The benchmark's real servers: one process listening on N loopback addresses
 * (127.20.x.y:8080), answering every HTTP request with `200 OK` and a body "OK".
 * A minimal HTTP over net (not node:http) so the target is never the bottleneck; it
 * honours `Connection: close` (fresh connection per check) and keep-alive alike.
 *
 * It records the time of every request per address, which is how the benchmark measures
 * the interval between two checks of the same real without trusting the daemon, and it
 * can be told (IPC) to refuse some addresses (listener closed, connections reset), which
 * is how a real "fails", or to answer 503 from now on, recording when it first did: the
 * moment a check saw the failure, from which the benchmark times how soon it was applied.
 *
 * Sharded: `target.js N SHARDS K` serves the addresses i with i % SHARDS == K. A shard
 * holds a listener and a kept connection per address, two descriptors each, so 10,000
 * reals in one process would cross this machine's 20,000 open-file limit (the last
 * reals' connections then fail with EMFILE, which is the target failing, not the daemon).
 */
import { createServer, type Server, type Socket } from 'node:net';

/** Real i's address: `NET.(BASE + i / 250).(i % 250 + 1)`, 127.20.0.1… by default. */
export function addressOf(i: number, net = '127.20', base = 0): string {
  return `${net}.${base + Math.floor(i / 250)}.${(i % 250) + 1}`;
}

const RESPONSE_CLOSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK');
const RESPONSE_KEEP = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=60\r\n\r\nOK');
const FAIL_CLOSE = Buffer.from(
  'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nFAIL',
);
const FAIL_KEEP = Buffer.from(
  'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nKeep-Alive: timeout=60\r\n\r\nFAIL',
);
const RING = 32;

interface Slot {
  server: Server;
  sockets: Set<Socket>;
  times: Float64Array;
  n: number;
  /** Answering 503 since the 'fail' command; when the first 503 went out (ms epoch). */
  failing: boolean;
  firstFailure: number;
}

function main(): void {
  const n = Number(process.argv[2] ?? 100);
  const shards = Number(process.argv[3] ?? 1);
  const shard = Number(process.argv[4] ?? 0);
  // `target.js N SHARDS K [NET BASE]`: the addresses (bench/keepalived.ts serves 10.9.10.1…).
  const net = process.argv[5] ?? '127.20';
  const base = Number(process.argv[6] ?? 0);
  const mine = (i: number) => i % shards === shard;
  const owned = Array.from({ length: n }, (_x, i) => i).filter(mine);
  const slots: Slot[] = [];
  let total = 0;
  let listening = 0;
  for (const i of owned) {
    const slot: Slot = {
      server: createServer({ noDelay: true }),
      sockets: new Set(),
      times: new Float64Array(RING),
      n: 0,
      failing: false,
      firstFailure: 0,
    };
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
          // HTTP/1.0 (keepalived's checker) closes unless it asked to keep the connection.
          const close =
            /\r\nconnection:\s*close/i.test(head) ||
            (/^\S+ \S+ HTTP\/1\.0\r\n/.test(head + '\r\n') && !/\r\nconnection:\s*keep-alive/i.test(head));
          if (slot.failing && !slot.firstFailure) slot.firstFailure = Date.now();
          if (close) {
            sock.end(slot.failing ? FAIL_CLOSE : RESPONSE_CLOSE);
            return;
          }
          sock.write(slot.failing ? FAIL_KEEP : RESPONSE_KEEP);
        }
      });
    });
    slot.server.listen({ port: 8080, host: addressOf(i, net, base), backlog: 4096 }, () => {
      if (++listening === owned.length) process.send?.({ ready: true });
    });
    slots[i] = slot;
  }
  if (!owned.length) process.send?.({ ready: true });
  process.on('message', (m: { cmd: string; ids?: number[]; id?: number; since?: number }) => {
    if (m.cmd === 'stats') {
      // Per address: the intervals between consecutive requests we still remember, both
      // made after `since` (the start of the steady-state window).
      const intervals: number[] = [];
      for (const s of slots) {
        if (!s) continue;
        const k = Math.min(s.n, RING);
        const ts: number[] = [];
        for (let j = s.n - k; j < s.n; j++) if (s.times[j % RING]! >= (m.since ?? 0)) ts.push(s.times[j % RING]!);
        for (let j = 1; j < ts.length; j++) intervals.push(ts[j]! - ts[j - 1]!);
      }
      process.send?.({ id: m.id, total, intervals, counts: Array.from({ length: n }, (_x, i) => slots[i]?.n ?? 0) });
    } else if (m.cmd === 'refuse') {
      for (const i of (m.ids ?? []).filter(mine)) {
        const s = slots[i]!;
        s.server.close();
        for (const sock of s.sockets) sock.resetAndDestroy();
      }
      process.send?.({ id: m.id, at: Date.now() });
    } else if (m.cmd === 'fail') {
      for (const i of (m.ids ?? []).filter(mine)) slots[i]!.failing = true;
      process.send?.({ id: m.id, at: Date.now() });
    } else if (m.cmd === 'failures') {
      process.send?.({ id: m.id, firstFailure: (m.ids ?? []).map((i) => slots[i]?.firstFailure ?? 0) });
    } else if (m.cmd === 'exit') process.exit(0);
  });
}

if (require.main === module) main();
