/**
 * checktype=ping, and checktype=connect on a UDP virtual (Perl check_ping, Net::Ping
 * "icmp"): up to `count` ICMP echo attempts, each waiting up to timeoutMs / count, up on
 * the first reply.
 *
 * The system ping (iputils) sends the echo, run with an argv array through spawn:
 * `ping -n -c 1 -W <seconds> <host>` (`-6` for IPv6). It needs no raw socket in this
 * process, works as root, and dies with the check: an abort kills it.
 */
import { spawn } from 'node:child_process';
import { isIPv6 } from 'node:net';
import { COMMAND_ENV } from '../util/command-env';
import { aborted, codeText, down, inert, session, up } from './kernel';
import { defineKind } from './kind';
import { trackChild } from '../util/children';

export interface PingSpec {
  kind: 'ping';
  host: string;
  ipv6: boolean;
  /** Attempts; each may take timeoutMs / count. */
  count: number;
  timeoutMs: number;
}

/** `-W` takes seconds, fractions allowed (iputils). */
const waitArg = (ms: number) => String(Math.max(0.001, Math.round(ms) / 1000));
/** What is kept of ping's output. */
const OUTPUT_CAP = 4096;

interface Attempt {
  /** 'reply', 'none' (no answer in time), 'error' (ping could not send), 'aborted'. */
  outcome: 'reply' | 'none' | 'error' | 'aborted';
  text: string;
}

function pingOnce(host: string, ipv6: boolean, waitMs: number, signal: AbortSignal): Promise<Attempt> {
  const args = ['-n', '-c', '1', '-W', waitArg(waitMs), ...(ipv6 ? ['-6'] : []), host];
  return session<Attempt>(
    signal,
    (settle) => {
      const child = trackChild(spawn('ping', args, { stdio: ['ignore', 'pipe', 'pipe'], env: COMMAND_ENV }));
      let out = '';
      let err = '';
      // ping ends by itself after -W; should it not, the attempt is over anyway.
      const stuck = setTimeout(() => settle({ outcome: 'none', text: '' }), waitMs + 1000);
      child.stdout?.setEncoding('latin1').on('data', (d: string) => {
        if (out.length < OUTPUT_CAP) out += d;
      });
      child.stderr?.setEncoding('latin1').on('data', (d: string) => {
        if (err.length < OUTPUT_CAP) err += d;
      });
      child.once('error', (e) => settle({ outcome: 'error', text: `cannot run ping: ${codeText(e)}` }));
      child.once('close', (code) => {
        if (code === 0) {
          const rtt = /time[=<]([\d.]+) ?ms/.exec(out);
          return settle({ outcome: 'reply', text: rtt ? ` in ${rtt[1]} ms` : '' });
        }
        if (code === 1) return settle({ outcome: 'none', text: '' });
        settle({ outcome: 'error', text: inert(err.trim().split('\n').pop() || `ping exit status ${code}`) });
      });
      return () => {
        clearTimeout(stuck);
        if (child.exitCode === null) child.kill('SIGKILL');
      };
    },
    () => ({ outcome: 'aborted', text: '' }),
    (e) => ({ outcome: 'error', text: `cannot run ping: ${codeText(e)}` }),
  );
}

export const ping = defineKind<PingSpec>({
  spec: (t) => {
    const count = Math.max(1, t.checkcount);
    return { kind: 'ping', host: t.host, ipv6: t.ipv6, count, timeoutMs: t.connectTimeoutMs * count };
  },
  async run(spec, { signal }) {
    const count = Math.max(1, spec.count);
    const per = spec.timeoutMs / count;
    const ipv6 = spec.ipv6 || isIPv6(spec.host);
    for (let i = 1; i <= count && !signal.aborted; i++) {
      const a = await pingOnce(spec.host, ipv6, per, signal);
      if (a.outcome === 'reply') return up(`ping reply from ${spec.host}${a.text}`);
      if (a.outcome === 'error') return down('exec', a.text);
      if (a.outcome === 'aborted') break;
    }
    if (signal.aborted) return aborted(signal);
    return down('unreachable', `no ping reply from ${spec.host} (${count} attempt${count > 1 ? 's' : ''})`);
  },
});
