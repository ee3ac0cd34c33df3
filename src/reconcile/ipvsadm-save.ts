/**
 * Parse what ipvsadm prints about the kernel table.
 *
 * `ipvsadm -S -n` is the rule format `ipvsadm -R` reads back, one command per line:
 *   -A -t 10.0.0.1:80 -s wrr -p 300 -M 255.255.255.0 -b sh-fallback,sh-port
 *   -A -u 10.0.0.1:53 -s rr -o
 *   -A -f 7 -6 -s wrr -p 30 -M 64
 *   -a -t 10.0.0.1:80 -r 10.1.1.2:80 -i -w 0 --tun-type ipip
 * (measured against the real ipvsadm 1.31 in the QEMU kernel). It omits the connection
 * thresholds, which only `ipvsadm -L -n --thresholds` shows:
 *   TCP  10.0.0.1:80 wrr
 *     -> 127.0.0.2:8080               100        10         0          0
 * Lines that are not understood are returned, not guessed at.
 */
import { serviceKey, type Dest, type Proto, type Service, type Table } from './table';

const PROTO: Record<string, Proto> = {
  '-t': 'tcp',
  '-u': 'udp',
  '-f': 'fwm',
  '--tcp-service': 'tcp',
  '--udp-service': 'udp',
  '--fwmark-service': 'fwm',
};

export interface SaveParse {
  table: Table;
  /** Lines that could not be read (reported, never acted upon). */
  unknown: string[];
}

export function parseSave(text: string): SaveParse {
  const table: Table = new Map();
  const unknown: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const a = line.split(/\s+/);
    const cmd = a[0];
    let proto: Proto | undefined;
    let addr: string | undefined;
    let ipv6 = false;
    const opts = new Map<string, string | true>();
    for (let i = 1; i < a.length; i++) {
      const t = a[i]!;
      if (t in PROTO && addr === undefined) {
        proto = PROTO[t];
        addr = a[++i];
      } else if (t === '-6' || t === '--ipv6') ipv6 = true;
      else if (['-g', '-m', '-i', '-o', '--ops'].includes(t)) opts.set(t === '--ops' ? '-o' : t, true);
      else if (t.startsWith('-') && i + 1 < a.length && !a[i + 1]!.startsWith('-')) opts.set(t, a[++i]!);
      else opts.set(t, true);
    }
    if (!proto || addr === undefined) {
      unknown.push(raw);
      continue;
    }
    if (proto !== 'fwm' && addr.startsWith('[')) ipv6 = true;
    const key = serviceKey(proto, addr, ipv6);
    if (cmd === '-A') {
      table.set(key, {
        key,
        proto,
        addr,
        ipv6,
        scheduler: str(opts.get('-s')) ?? 'wlc',
        persistent: opts.has('-p') ? Number(opts.get('-p')) : null,
        netmask: str(opts.get('-M')) ?? null,
        ops: opts.has('-o'),
        schedflags: str(opts.get('-b')) ?? null,
        dests: new Map(),
      });
    } else if (cmd === '-a') {
      const svc = table.get(key);
      const r = str(opts.get('-r'));
      if (!svc || !r) {
        unknown.push(raw);
        continue;
      }
      const forward = opts.has('-m') ? 'masq' : opts.has('-i') ? 'ipip' : 'gate';
      svc.dests.set(r, { key: r, forward, weight: Number(str(opts.get('-w')) ?? 1), upper: null, lower: null });
    } else {
      unknown.push(raw);
    }
  }
  return { table, unknown };
}

const str = (v: string | true | undefined) => (typeof v === 'string' ? v : undefined);

/**
 * Fold the thresholds from `ipvsadm -L -n --thresholds` into a table read with -S.
 * Returns the number of destinations updated.
 */
export function applyThresholds(table: Table, text: string): number {
  let current: Service | undefined;
  let n = 0;
  for (const line of text.split('\n')) {
    const svc = /^(TCP|UDP|FWM|SCTP)\s+(\S+)(\s+IPv6)?\s/.exec(line);
    if (svc) {
      const proto = svc[1]!.toLowerCase() as Proto;
      const ipv6 = proto === 'fwm' ? Boolean(svc[3]) : svc[2]!.startsWith('[');
      current = table.get(serviceKey(proto, svc[2]!, ipv6));
      continue;
    }
    const dest = /^\s+->\s+(\S+)\s+(\d+)\s+(\d+)\s/.exec(line);
    if (dest && current) {
      const d: Dest | undefined = current.dests.get(dest[1]!);
      if (d) {
        d.upper = Number(dest[2]);
        d.lower = Number(dest[3]);
        n++;
      }
    }
  }
  return n;
}

/** The table as `ipvsadm -S -n` would print it (for dry-run output and tests). */
export function formatSave(table: Table): string {
  const lines: string[] = [];
  for (const s of table.values()) {
    const svc = [s.proto === 'tcp' ? '-t' : s.proto === 'udp' ? '-u' : '-f', s.addr];
    if (s.proto === 'fwm' && s.ipv6) svc.push('-6');
    const attrs = ['-s', s.scheduler];
    if (s.persistent !== null) {
      attrs.push('-p', String(s.persistent));
      if (s.netmask !== null && s.netmask !== '255.255.255.255' && s.netmask !== '128') attrs.push('-M', s.netmask);
    }
    if (s.schedflags) attrs.push('-b', s.schedflags);
    if (s.ops) attrs.push('-o');
    lines.push(['-A', ...svc, ...attrs].join(' '));
    for (const d of s.dests.values()) {
      lines.push(
        [
          '-a',
          ...svc,
          '-r',
          d.key,
          d.forward === 'masq' ? '-m' : d.forward === 'ipip' ? '-i' : '-g',
          '-w',
          String(d.weight),
        ].join(' '),
      );
    }
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

/**
 * Parse `ipvsadm -L -n` (the list format the original daemon read), for an ipvsadm that
 * cannot print rules with -S. Thresholds stay unknown (null).
 *   TCP  10.0.0.2:443 sh (sh-fallback,sh-port) persistent 300 mask 255.255.255.0
 *   FWM  7 IPv6 wrr persistent 30 mask 64
 *   UDP  10.0.0.1:53 rr ops
 *     -> 127.0.0.2:8080               Masq    1      0          0
 */
export function parseList(text: string): SaveParse {
  const table: Table = new Map();
  const unknown: string[] = [];
  let current: Service | undefined;
  const FWD: Record<string, Dest['forward']> = { Route: 'gate', Local: 'gate', Masq: 'masq', Tunnel: 'ipip' };
  for (const line of text.split('\n')) {
    if (!line.trim() || /^(IP Virtual Server|Prot LocalAddress|\s+-> RemoteAddress)/.test(line)) continue;
    const svc =
      /^(TCP|UDP|FWM)\s+(\S+)(\s+IPv6)?\s+(\w+)(?:\s+\(([^)]*)\))?(?:\s+persistent\s+(\d+))?(?:\s+mask\s+(\S+))?(\s+ops)?\s*$/.exec(
        line,
      );
    if (svc) {
      const proto = svc[1]!.toLowerCase() as Proto;
      const addr = svc[2]!;
      const ipv6 = proto === 'fwm' ? Boolean(svc[3]) : addr.startsWith('[');
      const key = serviceKey(proto, addr, ipv6);
      current = {
        key,
        proto,
        addr,
        ipv6,
        scheduler: svc[4]!,
        schedflags: svc[5] ?? null,
        persistent: svc[6] !== undefined ? Number(svc[6]) : null,
        netmask: svc[7] ?? null,
        ops: Boolean(svc[8]),
        dests: new Map(),
      };
      table.set(key, current);
      continue;
    }
    const dest = /^\s+->\s+(\S+)\s+(Route|Local|Masq|Tunnel)\s+(\d+)\s/.exec(line);
    if (dest && current) {
      current.dests.set(dest[1]!, {
        key: dest[1]!,
        forward: FWD[dest[2]!]!,
        weight: Number(dest[3]),
        upper: null,
        lower: null,
      });
      continue;
    }
    unknown.push(line);
  }
  return { table, unknown };
}
