/**
 * checktype=ping, and checktype=connect on a UDP virtual (Perl check_ping, Net::Ping
 * "icmp"): up to `count` ICMP echo attempts, each waiting up to timeoutMs / count, up on
 * the first reply.
 *
 * The system ping (iputils) sends the echo, run with an argv array through spawn:
 * `ping -n -c 1 -W <seconds> <host>` (`-6` for IPv6). It needs no raw socket in this
 * process, works as root, and dies with the check: an abort kills it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { isIPv6 } from 'node:net';
import type { Check, PingSpec } from './types';
import { timeoutReason } from './reason';

/** The same minimal environment the external checks get. */
const CHECK_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

function abortReason(signal: AbortSignal, timeoutMs: number): string {
  if (signal.reason instanceof Error) return signal.reason.message;
  return timeoutReason(timeoutMs);
}

/** `-W` takes seconds, fractions allowed (iputils). */
const waitArg = (ms: number) => String(Math.max(0.001, Math.round(ms) / 1000));

interface Attempt {
  /** 'reply', 'none' (no answer in time), 'error' (ping could not send), 'aborted'. */
  outcome: 'reply' | 'none' | 'error' | 'aborted';
  text: string;
}

function pingOnce(host: string, ipv6: boolean, waitMs: number, signal: AbortSignal): Promise<Attempt> {
  return new Promise((resolve) => {
    const args = ['-n', '-c', '1', '-W', waitArg(waitMs)];
    if (ipv6) args.push('-6');
    args.push(host);
    let child: ChildProcess;
    try {
      child = spawn('ping', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: CHECK_PATH, LANG: 'C' } });
    } catch (e) {
      return resolve({
        outcome: 'error',
        text: `cannot run ping: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      });
    }
    let out = '';
    let err = '';
    let done = false;
    const finish = (a: Attempt) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      clearTimeout(stuck);
      resolve(a);
    };
    const onAbort = () => {
      child.kill('SIGKILL');
      finish({ outcome: 'aborted', text: '' });
    };
    // ping ends by itself after -W; should it not, the attempt is over anyway.
    const stuck = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ outcome: 'none', text: '' });
    }, waitMs + 1000);
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout!.setEncoding('latin1').on('data', (d: string) => {
      if (out.length < 4096) out += d;
    });
    child.stderr!.setEncoding('latin1').on('data', (d: string) => {
      if (err.length < 4096) err += d;
    });
    child.once('error', (e: NodeJS.ErrnoException) =>
      finish({ outcome: 'error', text: `cannot run ping: ${e.code ?? e.message}` }),
    );
    child.once('close', (code) => {
      if (code === 0) {
        const rtt = /time[=<]([\d.]+) ?ms/.exec(out);
        return finish({ outcome: 'reply', text: rtt ? ` in ${rtt[1]} ms` : '' });
      }
      if (code === 1) return finish({ outcome: 'none', text: '' });
      const msg = err.trim().split('\n').pop() || `ping exit status ${code}`;
      finish({ outcome: 'error', text: msg });
    });
  });
}

export const checkPing: Check<PingSpec> = async (spec, { signal }) => {
  const count = Math.max(1, spec.count);
  const per = spec.timeoutMs / count;
  const ipv6 = spec.ipv6 || isIPv6(spec.host);
  for (let i = 1; i <= count; i++) {
    if (signal.aborted) break;
    const a = await pingOnce(spec.host, ipv6, per, signal);
    if (a.outcome === 'reply') return { up: true, reason: `ping reply from ${spec.host}${a.text}` };
    if (a.outcome === 'error') return { up: false, reason: a.text };
    if (a.outcome === 'aborted') break;
  }
  if (signal.aborted) return { up: false, reason: abortReason(signal, spec.timeoutMs) };
  return { up: false, reason: `no ping reply from ${spec.host} (${count} attempt${count > 1 ? 's' : ''})` };
};
