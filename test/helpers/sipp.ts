/**
 * A throwaway SIPp (Debian sip-tester) user agent server: a scenario that receives an
 * OPTIONS request and answers it with a given status line (200 OK, 404 Not Found, …),
 * once per incoming call, for as long as it runs. One transport per process (u1: UDP,
 * t1: TCP), on 127.30.4.1 or ::1. Its control and media ports are chosen free too, so
 * nothing collides with another SIPp on the machine.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { which } from './env';
import { freePort, startDaemon, tempDir, type Daemon } from './throwaway';

export interface Sipp extends Daemon {
  host: string;
  port: number;
  transport: 'udp' | 'tcp';
  /** Every SIP message SIPp received and sent (its -trace_msg file). */
  messageLog: string;
}

export function missingSipp(): string | null {
  return which('sipp') ? null : 'sipp is not installed (apt-get install sip-tester)';
}

/** A UAS scenario: receive OPTIONS, answer with `status` (e.g. "200 OK"). */
export function optionsScenario(status: string): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="answer OPTIONS with ${status}">
  <recv request="OPTIONS" />
  <send>
    <![CDATA[

      SIP/2.0 ${status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Accept: application/sdp
      Content-Length: 0

    ]]>
  </send>
</scenario>
`;
}

export async function startSipp(host: string, transport: 'udp' | 'tcp', status: string): Promise<Sipp> {
  const dir = tempDir('sipp');
  const port = await freePort([[transport, host]]);
  const controlPort = await freePort([['udp', '0.0.0.0']]);
  // Media (RTP) ports: SIPp binds a pair (port, port+2), unused by this scenario.
  const mediaPort = await freePort([['udp', host]], 4);
  const scenario = join(dir, 'scenario.xml');
  writeFileSync(scenario, optionsScenario(status));
  const messageLog = join(dir, 'messages.log');
  const d = await startDaemon(
    'sipp',
    dir,
    'sipp',
    [
      '-sf',
      scenario,
      '-i',
      host,
      '-p',
      String(port),
      '-t',
      transport === 'udp' ? 'u1' : 't1',
      '-mi',
      host,
      '-mp',
      String(mediaPort),
      '-cp',
      String(controlPort),
      '-nostdin',
      '-trace_msg',
      '-message_file',
      messageLog,
      '-trace_err',
      '-error_file',
      join(dir, 'errors.log'),
    ],
    { ready: [[transport, host, port]] },
  );
  return Object.assign(d, { host, port, transport, messageLog });
}
