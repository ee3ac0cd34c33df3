#!/usr/bin/env python3
# A recording stand-in for ipvsadm, for the benchmarks (issue 7). NOT for production.
#
# Same kernel semantics and output formats as src/testing/fake-ipvsadm.ts (and the harness
# of the Perl spec's Appendix A, which this extends with -S and -R), but it starts in a few
# milliseconds where a Node process takes hundreds, so the latency figures measure the
# daemons and not their stand-in. Every invocation is appended to $RIPVS_DIR/ipvsadm.log as
#   <epoch ms> <pid> <args...>          and, for -R, one "<epoch ms> <pid> -R: <line>" per line
# The table lives in $RIPVS_DIR/state.json. Install with: recording-ipvsadm.py --install DIR
import json, os, sys, time

def now_ms():
    return int(time.time() * 1000)

def main(argv):
    if argv[:1] == ['--install']:
        d = os.path.abspath(argv[1])
        os.makedirs(d, exist_ok=True)
        w = os.path.join(d, 'ipvsadm')
        # The system Python without site packages starts in ~15 ms where a pyenv one
        # takes ~90. Reads, which Perl runs twice per change, do not start Python at all:
        # every write leaves the three listings in files, and bash serves them with cat in
        # a few milliseconds, about what the real ipvsadm takes to list a table.
        py = '/usr/bin/python3' if os.access('/usr/bin/python3', os.X_OK) else sys.executable
        with open(w, 'w') as f:
            f.write(WRAPPER.replace('@DIR@', d).replace('@PY@', py).replace('@RECORDER@', os.path.abspath(__file__)))
        os.chmod(w, 0o755)
        if not os.path.exists(os.path.join(d, 'state.json')):
            save(d, {'order': [], 'svc': {}})
        print(w)
        return 0
    d = os.environ.get('RIPVS_DIR')
    if not d:
        sys.stderr.write('recording-ipvsadm: RIPVS_DIR is not set\n')
        return 2
    log = open(os.path.join(d, 'ipvsadm.log'), 'a')
    pid = os.getpid()
    log.write('%d %d %s\n' % (now_ms(), pid, ' '.join(argv)))
    st = load(d)
    args = [a for a in argv if a not in ('-n', '--numeric')]
    if args[:1] in (['-S'], ['--save']):
        sys.stdout.write(save_text(st))
        return 0
    if args[:1] in (['-L'], ['-l'], ['--list']):
        sys.stdout.write(list_text(st, '--thresholds' in args))
        return 0
    if args[:1] in (['-R'], ['--restore']):
        rc = 0
        for line in sys.stdin.read().split('\n'):
            line = line.strip()
            if not line:
                continue
            log.write('%d %d -R: %s\n' % (now_ms(), pid, line))
            err = apply(st, line.split())
            if err:
                sys.stderr.write(err + '\n')
                if err.startswith('Illegal'):
                    rc = 255
                    break
        save(d, st)
        return rc
    err = apply(st, args)
    if err:
        sys.stderr.write(err + '\n')
        return 255
    save(d, st)
    return 0

def load(d):
    try:
        with open(os.path.join(d, 'state.json')) as f:
            return json.load(f)
    except Exception:
        return {'order': [], 'svc': {}}

def save(d, st):
    write(d, 'state.json', json.dumps(st))
    # What the wrapper serves to readers, made once per change.
    write(d, 'save.txt', save_text(st))
    write(d, 'list.txt', list_text(st, False))
    write(d, 'list-thresholds.txt', list_text(st, True))

def write(d, name, text):
    p = os.path.join(d, name)
    with open(p + '.tmp', 'w') as f:
        f.write(text)
    os.replace(p + '.tmp', p)

WRAPPER = '''#!/bin/bash
# Recording stand-in for ipvsadm (bench/recording-ipvsadm.py). Reads are served from the
# listings the last write left; writes go to the recorder. Every call is logged as
# "<epoch ms> <pid> <args>".
d='@DIR@'
case "$1" in
  -L|-l|--list|-S|--save)
    t=${EPOCHREALTIME/./}
    printf '%s %s %s\\n' "${t:0:-3}" "$$" "$*" >> "$d/ipvsadm.log"
    case " $* " in
      *' --thresholds '*) exec cat "$d/list-thresholds.txt" ;;
      ' -S '*|' --save '*) exec cat "$d/save.txt" ;;
      *) exec cat "$d/list.txt" ;;
    esac ;;
esac
RIPVS_DIR="$d" exec '@PY@' -S -E '@RECORDER@' "$@"
'''

PROTO = {'-t': 'TCP', '-u': 'UDP', '-f': 'FWM'}
FWD = {'-g': 'Route', '-m': 'Masq', '-i': 'Tunnel'}
FLAG = {'Route': '-g', 'Masq': '-m', 'Tunnel': '-i'}

def apply(st, a):
    if not a:
        return 'Illegal command'
    cmd = a[0]
    if cmd == '-C':
        st['order'], st['svc'] = [], {}
        return None
    key = proto = addr = None
    opt = {}
    v6 = False
    i = 1
    while i < len(a):
        t = a[i]
        if t in PROTO:
            proto, addr = PROTO[t], a[i + 1]
            i += 2
            continue
        if t == '-6':
            v6 = True
        elif t in FWD or t == '-o':
            opt[t] = True
        elif i + 1 < len(a):
            opt[t] = a[i + 1]
            i += 1
        i += 1
    if proto is None:
        return 'Illegal command'
    key = proto + ' ' + addr + (' IPv6' if proto == 'FWM' and v6 else '')
    svc = st['svc'].get(key)
    if cmd in ('-A', '-E'):
        if cmd == '-A' and svc:
            return 'Service already exists'
        if cmd == '-E' and not svc:
            return 'No such service'
        if not svc:
            svc = st['svc'][key] = {'real': {}, 'rorder': []}
            st['order'].append(key)
        svc['sched'] = opt.get('-s', 'wlc')
        svc['persistent'] = opt.get('-p')
        svc['netmask'] = opt.get('-M') if opt.get('-p') else None
        svc['ops'] = '-o' in opt
        svc['flags'] = opt.get('-b')
        return None
    if cmd == '-D':
        if not svc:
            return 'No such service'
        del st['svc'][key]
        st['order'].remove(key)
        return None
    if cmd in ('-a', '-e', '-d'):
        if not svc:
            return 'No such service'
        r = opt.get('-r')
        if not r:
            return 'No destination specified'
        fwd = next((FWD[f] for f in FWD if f in opt), 'Route')
        if not r.rsplit(']', 1)[-1].count(':'):
            r += ':0'
        if cmd != '-d' and proto != 'FWM' and fwd != 'Masq':
            r = r.rsplit(':', 1)[0] + ':' + addr.rsplit(':', 1)[1]
        cur = svc['real'].get(r)
        if cmd == '-d':
            if not cur:
                return 'No such destination'
            del svc['real'][r]
            svc['rorder'].remove(r)
            return None
        if cmd == '-a' and cur:
            return 'Destination already exists'
        if cmd == '-e' and not cur:
            return 'No such destination'
        if not cur:
            svc['rorder'].append(r)
            cur = {'w': '1', 'u': '0', 'l': '0'}
        svc['real'][r] = {'fwd': fwd, 'w': opt.get('-w', cur['w'] if cmd == '-e' else '1'),
                          'u': opt.get('-x', cur['u']), 'l': opt.get('-y', cur['l'])}
        return None
    return 'Illegal command ' + cmd

def svc_args(key):
    p, rest = key.split(' ', 1)
    flag = {'TCP': '-t', 'UDP': '-u', 'FWM': '-f'}[p]
    if rest.endswith(' IPv6'):
        return flag + ' ' + rest[:-5] + ' -6'
    return flag + ' ' + rest

def save_text(st):
    out = []
    for k in st['order']:
        s = st['svc'][k]
        line = '-A ' + svc_args(k) + ' -s ' + s['sched']
        if s.get('persistent') is not None:
            line += ' -p ' + s['persistent']
            if s.get('netmask') and s['netmask'] not in ('255.255.255.255', '128'):
                line += ' -M ' + s['netmask']
        if s.get('flags'):
            line += ' -b ' + s['flags']
        if s.get('ops'):
            line += ' -o'
        out.append(line)
        for r in s['rorder']:
            d = s['real'][r]
            out.append('-a ' + svc_args(k) + ' -r ' + r + ' ' + FLAG[d['fwd']] + ' -w ' + d['w'])
    return '\n'.join(out) + ('\n' if out else '')

def list_text(st, thresholds):
    out = ['IP Virtual Server version 1.2.1 (size=4096)']
    if thresholds:
        out += ['Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn ', '  -> RemoteAddress:Port']
    else:
        out += ['Prot LocalAddress:Port Scheduler Flags', '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn']
    for k in st['order']:
        s = st['svc'][k]
        p, rest = k.split(' ', 1)
        line = '%-4s %s %s' % (p, rest, s['sched'])
        if s.get('flags'):
            line += ' (%s)' % s['flags']
        if s.get('persistent') is not None:
            line += ' persistent %s' % s['persistent']
            if s.get('netmask') and s['netmask'] not in ('255.255.255.255', '128'):
                line += ' mask %s' % s['netmask']
        if s.get('ops'):
            line += ' ops'
        out.append(line)
        for r in s['rorder']:
            d = s['real'][r]
            if thresholds:
                out.append('  -> %-28s %-10s %-10s %-10s %-10s' % (r, d['u'], d['l'], 0, 0))
            else:
                out.append('  -> %-28s %-7s %-6s %-10s %-10s' % (r, d['fwd'], d['w'], 0, 0))
    return '\n'.join(out) + '\n'

if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
