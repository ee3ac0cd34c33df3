/**
 * A log file read backwards, line by line from the end, in chunks: `logs -n 10` on a log
 * that has grown for months costs only as much as the lines it needs (or, with a filter
 * that matches rarely, one backwards pass over the file).
 */
import type { FileHandle } from 'node:fs/promises';

const CHUNK = 64 * 1024;
const NL = 0x0a;

export interface BackwardsOptions {
  /** The file's size when it was opened; nothing after it is read. */
  size: number;
  /** Each line, newest first, without its newline. Return true to stop reading. */
  onLine(line: string): boolean;
  /**
   * Leave an unfinished last line (no newline yet) out, for a follower to read whole once
   * it is finished.
   */
  completeOnly?: boolean;
}

export interface BackwardsResult {
  /** Where a follower goes on reading: `size`, or with completeOnly the end of the last complete line. */
  end: number;
  /** Whether the start of the file was reached (every line was handed over). */
  atStart: boolean;
}

const decode = (b: Buffer) => {
  const s = b.toString('utf8');
  return s.endsWith('\r') ? s.slice(0, -1) : s;
};

export async function readBackwards(fh: FileHandle, opts: BackwardsOptions): Promise<BackwardsResult> {
  let end = opts.size;
  if (opts.size === 0) return { end, atStart: true };
  // `carry` is the start of a line whose beginning lies in a chunk not read yet.
  let carry: Buffer = Buffer.alloc(0);
  let pos = opts.size;
  let last = true; // the next line found is the file's last one
  const take = (bytes: Buffer): boolean => {
    if (last) {
      last = false;
      if (bytes.length === 0) return false; // the file ends with a newline
      if (opts.completeOnly) {
        end -= bytes.length;
        return false;
      }
    }
    return opts.onLine(decode(bytes));
  };
  const buf = Buffer.alloc(CHUNK);
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const { bytesRead } = await fh.read(buf, 0, len, pos);
    if (bytesRead < len) return { end, atStart: false }; // the file shrank under us: what we have
    const chunk = Buffer.concat([buf.subarray(0, bytesRead), carry]);
    let stopAt = chunk.length;
    for (let i = chunk.length - 1 - carry.length; i >= 0; i--) {
      if (chunk[i] !== NL) continue;
      if (take(chunk.subarray(i + 1, stopAt))) return { end, atStart: false };
      stopAt = i;
    }
    carry = Buffer.from(chunk.subarray(0, stopAt));
  }
  if (carry.length > 0 || !last) take(carry);
  return { end, atStart: true };
}
