/**
 * What the kernel does with an ipvsadm command, on a Table value: the behaviour measured
 * with the real ipvsadm 1.31 in the QEMU kernel, including ipvsadm's rewrite of the port
 * of a gate/ipip destination to the service's port on -a/-e (not on -d, not for fwmark).
 *
 * Used by dry-run (to carry planned changes forward so the daemon converges without
 * touching the kernel) and as the kernel of the unit tests' fake ipvsadm. Never used
 * against the real table.
 */
import { serviceKey, type Proto, type Table } from './table';

const PROTO: Record<string, Proto> = { '-t': 'tcp', '-u': 'udp', '-f': 'fwm' };

/** Apply one command; returns ipvsadm's error text, or null on success. */
export function simulateCommand(table: Table, argv: readonly string[]): string | null {
  const cmd = argv[0];
  if (cmd === '-C') {
    table.clear();
    return null;
  }
  let proto: Proto | undefined;
  let addr: string | undefined;
  let ipv6 = false;
  const opt = new Map<string, string | true>();
  for (let i = 1; i < argv.length; i++) {
    const t = argv[i]!;
    if (t in PROTO) {
      proto = PROTO[t];
      addr = argv[++i];
    } else if (t === '-6') ipv6 = true;
    else if (['-g', '-m', '-i', '-o'].includes(t)) opt.set(t, true);
    else opt.set(t, argv[++i] ?? '');
  }
  if (!proto || addr === undefined) return 'Illegal command';
  if (proto !== 'fwm') ipv6 = addr.startsWith('[');
  const key = serviceKey(proto, addr, ipv6);
  const svc = table.get(key);
  const num = (o: string, d: number) => (opt.has(o) ? Number(opt.get(o)) : d);
  switch (cmd) {
    case '-A':
    case '-E': {
      if (cmd === '-A' && svc) return 'Service already exists';
      if (cmd === '-E' && !svc) return 'No such service';
      const attrs = {
        scheduler: (opt.get('-s') as string) ?? 'wlc',
        persistent: opt.has('-p') ? num('-p', 0) : null,
        netmask: opt.has('-p') ? ((opt.get('-M') as string) ?? null) : null,
        ops: opt.has('-o'),
        schedflags: (opt.get('-b') as string) ?? null,
      };
      if (svc) Object.assign(svc, attrs);
      else table.set(key, { key, proto, addr, ipv6, ...attrs, dests: new Map() });
      return null;
    }
    case '-D':
      if (!svc) return 'No such service';
      table.delete(key);
      return null;
    case '-a':
    case '-e':
    case '-d': {
      if (!svc) return 'No such service';
      let r = opt.get('-r') as string | undefined;
      if (!r) return 'No destination specified';
      // ipvsadm's parse_service: no address before the port (Perl's `-r :0`, W-4) is refused.
      if (/^(\[\])?(:\d*)?$/.test(r)) return 'illegal real server address';
      const forward = opt.has('-m') ? 'masq' : opt.has('-i') ? 'ipip' : 'gate';
      if (!/:\d+$/.test(r) || (r.startsWith('[') && !/\]:\d+$/.test(r))) r = `${r}:0`;
      if (cmd !== '-d' && proto !== 'fwm' && forward !== 'masq') r = r.replace(/:\d+$/, ':' + addr.replace(/^.*:/, ''));
      const cur = svc.dests.get(r);
      if (cmd === '-d') {
        if (!cur) return 'No such destination';
        svc.dests.delete(r);
        return null;
      }
      if (cmd === '-a' && cur) return 'Destination already exists';
      if (cmd === '-e' && !cur) return 'No such destination';
      svc.dests.set(r, {
        key: r,
        forward,
        weight: num('-w', cmd === '-e' ? cur!.weight : 1),
        upper: opt.has('-x') ? num('-x', 0) : (cur?.upper ?? 0),
        lower: opt.has('-y') ? num('-y', 0) : (cur?.lower ?? 0),
      });
      return null;
    }
    default:
      return `Illegal command ${cmd}`;
  }
}
