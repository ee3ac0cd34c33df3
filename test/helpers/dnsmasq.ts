/**
 * A throwaway dnsmasq (Debian dnsmasq-base: the binary without the system service) as an
 * authoritative-only nameserver for example.test on 127.30.2.1 and ::1, UDP and TCP, one
 * port, records from its own hosts file. No upstream servers, no /etc/hosts, no
 * /etc/dnsmasq.conf.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { which } from './env';
import { ADDR, freePort, startDaemon, tempDir, type Daemon } from './throwaway';

/** The records served: name → address (each also has its PTR). */
export const RECORDS = {
  'www.example.test': '127.30.9.9',
  'mail.example.test': '127.30.9.25',
} as const;

/** A name with so many A records that the answer does not fit a 512-byte UDP reply. */
export const BIG_NAME = 'big.example.test';
export const BIG_ADDRESSES = Array.from({ length: 60 }, (_, i) => `127.30.10.${i + 1}`);

export interface Dnsmasq extends Daemon {
  host: string;
  port: number;
}

export function missingDnsmasq(): string | null {
  return which('dnsmasq') ? null : 'dnsmasq is not installed (apt-get install dnsmasq-base)';
}

export async function startDnsmasq(): Promise<Dnsmasq> {
  const dir = tempDir('dnsmasq');
  const host = ADDR.dns;
  const port = await freePort([
    ['udp', host],
    ['tcp', host],
    ['udp', '::1'],
    ['tcp', '::1'],
  ]);
  const hosts = join(dir, 'hosts');
  const lines = Object.entries(RECORDS).map(([name, addr]) => `${addr} ${name}\n`);
  for (const addr of BIG_ADDRESSES) lines.push(`${addr} ${BIG_NAME}\n`);
  writeFileSync(hosts, lines.join(''));
  const d = await startDaemon(
    'dnsmasq',
    dir,
    'dnsmasq',
    [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-poll',
      '--no-hosts',
      `--addn-hosts=${hosts}`,
      // Authoritative for the test domain and its reverse zone: unknown names get NXDOMAIN.
      '--local=/example.test/',
      '--local=/30.127.in-addr.arpa/',
      `--listen-address=${host}`,
      '--listen-address=::1',
      '--bind-interfaces',
      `--port=${port}`,
      '--user=root',
      '--group=root',
      '--pid-file=',
      '--log-facility=-',
      '--log-queries',
    ],
    {
      ready: [
        ['udp', host, port],
        ['tcp', host, port],
        ['udp', '::1', port],
        ['tcp', '::1', port],
      ],
    },
  );
  return Object.assign(d, { host, port });
}
