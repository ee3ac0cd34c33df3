/**
 * Running the commands a config names (fallbackcommand, callback, execute=), without a
 * shell: the command string is split into words (quotes respected, nothing expanded) and
 * run with execFile, with a deadline.
 */
import { execFile } from 'node:child_process';
import { inert } from '../text/untrusted';
import { trackChild } from '../util/children';

/** Split a command line into words: whitespace separates, '…' and "…" group, \ escapes. */
export function splitCommand(cmd: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < cmd.length) cur += cmd[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < cmd.length) {
      cur += cmd[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

export interface CommandResult {
  ok: boolean;
  detail: string;
}

/** Run `command` (split into words) followed by `args`, killed after `timeoutMs`. */
export function runCommand(command: string, args: string[], timeoutMs = 30000): Promise<CommandResult> {
  const words = splitCommand(command);
  if (!words.length) return Promise.resolve({ ok: false, detail: 'empty command' });
  return new Promise((resolve) => {
    const child = execFile(
      words[0]!,
      [...words.slice(1), ...args],
      {
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 1024 * 1024,
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      },
      (err, _out, stderr) => {
        if (!err) return resolve({ ok: true, detail: '' });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown; signal?: string };
        const why = e.killed
          ? `killed after ${timeoutMs / 1000} s`
          : typeof e.code === 'number'
            ? `exit status ${e.code}`
            : e.signal
              ? `killed by ${e.signal}`
              : String(e.code ?? e.message);
        const tail = String(stderr).trim();
        resolve({ ok: false, detail: tail ? `${why}: ${inert(tail.slice(-200))}` : why });
      },
    );
    trackChild(child);
  });
}
