/**
 * `npm run test:vm`: boot a real Debian kernel with IPVS under QEMU and run the VM suite
 * (test/vm/*.test.ts) inside it with mocha, against the real ipvsadm.
 *
 * The guest's root filesystem is this machine's own, shared read-only with a RAM overlay
 * (test/vm/ipvs-vm/run-in-ipvs-vm.sh), so the built daemon, node, ipvsadm and iproute2 are
 * there at the same paths; the repository is shared read-write at its own path. One boot
 * runs the whole suite; each test makes its own network namespaces (test/vm/lab.ts).
 *
 * What the suite needs from this machine: qemu-system-x86, a Debian kernel image with the
 * ip_vs modules (linux-image-amd64), busybox-static, cpio, xz-utils, kmod, ipvsadm and
 * iproute2 (.ci/packages/vm.txt). When one is missing the suite is skipped with the reason,
 * or fails under LDIRECTORD_TEST_REQUIRE_ALL=1 (CI). The launcher never installs anything.
 *
 * Arguments after `--` go to mocha inside the guest (`npm run test:vm -- --grep traffic`).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REQUIRE_ALL, ROOT, which } from '../helpers/env';

const SCRIPT = join(ROOT, 'test', 'vm', 'ipvs-vm', 'run-in-ipvs-vm.sh');
const PACKAGES = 'qemu-system-x86 linux-image-amd64 busybox-static cpio xz-utils kmod ipvsadm iproute2';

function missing(): string | null {
  if (process.platform !== 'linux') return 'the VM suite needs Linux';
  if (process.getuid?.() !== 0)
    return 'the VM suite needs root (QEMU shares / over 9p and the tests make network namespaces)';
  const need: string[] = [];
  if (!which('qemu-system-x86_64')) need.push('qemu-system-x86');
  if (!existsSync('/bin/busybox')) need.push('busybox-static');
  if (!which('cpio')) need.push('cpio');
  if (!which('xz')) need.push('xz-utils');
  if (!which('modprobe')) need.push('kmod');
  if (!which('ipvsadm')) need.push('ipvsadm');
  if (!which('ip')) need.push('iproute2');
  if (!ipvsKernel()) need.push('linux-image-amd64');
  if (need.length)
    return `missing packages for the VM suite: ${need.join(' ')} (apt-get install --no-install-recommends ${PACKAGES})`;
  if (/[\s,]/.test(ROOT)) return `the repository path must not contain spaces or commas for the VM share: ${ROOT}`;
  return null;
}

/** A kernel in /boot whose modules include ip_vs (what the VM boots). */
function ipvsKernel(): string | null {
  if (!existsSync('/lib/modules')) return null;
  for (const v of readdirSync('/lib/modules')) {
    const dir = `/lib/modules/${v}/kernel/net/netfilter/ipvs`;
    if (existsSync(`/boot/vmlinuz-${v}`) && existsSync(dir) && readdirSync(dir).some((f) => f.startsWith('ip_vs.ko')))
      return v;
  }
  return null;
}

async function main(): Promise<number> {
  const why = missing();
  if (why) {
    if (REQUIRE_ALL) {
      process.stderr.write(`test:vm: required test part missing: ${why}\n`);
      return 1;
    }
    process.stdout.write(`test:vm: skipped: ${why}\n`);
    return 0;
  }
  const mochaArgs = process.argv.slice(2);
  const timeout = process.env.LDIRECTORD_VM_TIMEOUT ?? '1500';
  const argv = [
    '-t',
    timeout,
    '-m',
    '4096',
    '-e',
    'LDIRECTORD_TEST_REQUIRE_ALL',
    '-e',
    'LDIRECTORD_VM_REPORT',
    '-e',
    'TZ',
    ROOT,
    '--',
    process.execPath,
    join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'),
    '--config',
    join(ROOT, 'test', 'vm', 'mocharc.json'),
    ...mochaArgs,
  ];
  process.stdout.write(`test:vm: booting a Debian kernel with IPVS under QEMU (${SCRIPT})\n`);
  const t0 = Date.now();
  // The launcher installs nothing: what is missing was reported above.
  const child = spawn(SCRIPT, argv, { stdio: 'inherit', env: { ...process.env, IPVS_VM_NO_INSTALL: '1' } });
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const code: number = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 128 : 1))));
  process.stdout.write(`test:vm: the guest exited ${code} after ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  if (code === 124) process.stderr.write('test:vm: the VM timed out (LDIRECTORD_VM_TIMEOUT seconds)\n');
  if (code === 125) process.stderr.write('test:vm: the VM could not start (see the QEMU and console output above)\n');
  return code;
}

// Keep the event loop honest when stdout is a closed pipe.
process.stdout.on('error', () => undefined);
void main().then((c) => process.exit(c));
