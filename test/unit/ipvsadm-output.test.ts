/**
 * Parsing what ipvsadm prints. The texts are those the real ipvsadm 1.31 printed in the
 * QEMU kernel (see the VM suite), including the quirks: -S omits thresholds, ops comes
 * last, ipip gets --tun-type, fwmark reals without a port show :0.
 */
import assert from 'node:assert/strict';
import { applyThresholds, formatSave, parseList, parseSave } from '../../src/reconcile/ipvsadm-save';
import { simulateCommand } from '../../src/reconcile/simulate';

const SAVE = `-A -t 10.0.0.1:80 -s wrr
-a -t 10.0.0.1:80 -r 10.1.1.1:80 -g -w 0
-a -t 10.0.0.1:80 -r 10.1.1.2:80 -i -w 0 --tun-type ipip
-a -t 10.0.0.1:80 -r 127.0.0.2:8080 -m -w 1
-A -t 10.0.0.2:443 -s sh -p 300 -M 255.255.255.0 -b sh-fallback,sh-port
-A -t 10.0.0.3:443 -s wlc -p 300
-A -u 10.0.0.1:53 -s rr -o
-A -t [2001:db8::1]:80 -s wrr
-a -t [2001:db8::1]:80 -r [2001:db8::2]:8080 -m -w 1
-A -f 5 -s wrr
-a -f 5 -r 10.1.1.3:0 -g -w 1
-A -f 7 -6 -s wrr -p 30 -M 64
-a -f 7 -6 -r [2001:db8::5]:0 -g -w 1
`;

const THRESH = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn 
  -> RemoteAddress:Port
TCP  10.0.0.1:80 wrr
  -> 10.1.1.1:80                  0          0          0          0         
  -> 127.0.0.2:8080               100        10         0          0         
FWM  7 IPv6 wrr persistent 30 mask 64
  -> [2001:db8::5]:0              0          0          0          0         
`;

const LIST = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:80 wrr
  -> 10.1.1.1:80                  Route   0      0          0         
  -> 10.1.1.2:80                  Tunnel  0      0          0         
  -> 127.0.0.2:8080               Masq    1      0          0         
TCP  10.0.0.2:443 sh (sh-fallback,sh-port) persistent 300 mask 255.255.255.0
UDP  10.0.0.1:53 rr ops
FWM  7 IPv6 wrr persistent 30 mask 64
  -> [2001:db8::5]:0              Route   1      0          0         
`;

describe('ipvsadm output', () => {
  it('parses -S -n', () => {
    const { table, unknown } = parseSave(SAVE);
    assert.deepEqual(unknown, []);
    assert.deepEqual(
      [...table.keys()],
      [
        'tcp:10.0.0.1:80',
        'tcp:10.0.0.2:443',
        'tcp:10.0.0.3:443',
        'udp:10.0.0.1:53',
        'tcp:[2001:db8::1]:80',
        'fwm:5',
        'fwm6:7',
      ],
    );
    const s = table.get('tcp:10.0.0.2:443')!;
    assert.deepEqual(
      [s.scheduler, s.persistent, s.netmask, s.schedflags],
      ['sh', 300, '255.255.255.0', 'sh-fallback,sh-port'],
    );
    assert.equal(table.get('udp:10.0.0.1:53')!.ops, true);
    assert.equal(table.get('tcp:10.0.0.1:80')!.dests.get('10.1.1.2:80')!.forward, 'ipip');
    assert.equal(table.get('fwm6:7')!.dests.get('[2001:db8::5]:0')!.weight, 1);
    assert.equal(table.get('tcp:10.0.0.1:80')!.dests.get('127.0.0.2:8080')!.upper, null, 'thresholds unknown from -S');
  });
  it('folds in --thresholds', () => {
    const { table } = parseSave(SAVE);
    applyThresholds(table, THRESH);
    const d = table.get('tcp:10.0.0.1:80')!.dests.get('127.0.0.2:8080')!;
    assert.deepEqual([d.upper, d.lower], [100, 10]);
  });
  it('reads the -L -n list format as the same table', () => {
    const { table, unknown } = parseList(LIST);
    assert.deepEqual(unknown, []);
    assert.equal(table.get('tcp:10.0.0.2:443')!.schedflags, 'sh-fallback,sh-port');
    assert.equal(table.get('tcp:10.0.0.1:80')!.dests.get('10.1.1.2:80')!.forward, 'ipip');
    assert.equal(table.get('fwm6:7')!.netmask, '64');
  });
  it('refuses what it does not understand', () => {
    assert.deepEqual(parseSave('garbage here\n').unknown, ['garbage here']);
    assert.equal(parseList('TCP  10.0.0.1:80 wrr\n  what is this\n').unknown.length, 1);
  });
  it('simulates the kernel: gate/ipip ports rewritten on -a/-e, not on -d; errors as ipvsadm prints them', () => {
    const t = parseSave('').table;
    assert.equal(simulateCommand(t, ['-A', '-t', '10.0.0.1:80', '-s', 'wrr']), null);
    assert.equal(simulateCommand(t, ['-a', '-t', '10.0.0.1:80', '-r', '10.1.1.1:8080', '-g', '-w', '3']), null);
    assert.equal(simulateCommand(t, ['-d', '-t', '10.0.0.1:80', '-r', '10.1.1.1:8080']), 'No such destination');
    assert.equal(simulateCommand(t, ['-e', '-t', '10.0.0.1:80', '-r', '10.1.1.1:8080', '-g', '-w', '0']), null);
    assert.equal(
      simulateCommand(t, ['-a', '-t', '10.0.0.1:80', '-r', '10.1.1.1:80', '-g', '-w', '1']),
      'Destination already exists',
    );
    assert.equal(simulateCommand(t, ['-A', '-t', '10.0.0.1:80', '-s', 'rr']), 'Service already exists');
    assert.equal(formatSave(t), '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.1.1.1:80 -g -w 0\n');
  });
});
