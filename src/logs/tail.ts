/**
 * The last N lines of a log file that pass a test, read backwards from the end in chunks,
 * so a large log costs only as much as the lines wanted (or, with a filter that matches
 * rarely, one backwards pass over the file).
 */
import type { FileHandle } from 'node:fs/promises';

const CHUNK = 64 * 1024;
const NL = 0x0a;

export interface TailResult {
  /** The matching lines, oldest first, without newlines. */
  lines: string[];
  /**
   * Where a follower should go on reading: `size`, or with `completeOnly` the end of the
   * last complete line (an unfinished last line is left for the follower to finish).
   */
  end: number;
}

export interface TailOptions {
  /** How many matching lines to return. */
  count: number;
  /** The file's size when it was opened; nothing after it is read. */
  size: number;
  accept(line: string): boolean;
  /** Stop the backwards scan at this line (it and everything before are not wanted). */
  stop?(line: string): boolean;
  /** Leave an unfinished last line (no newline yet) out and end before it. */
  completeOnly?: boolean;
}

const decode = (b: Buffer) => {
  const s = b.toString('utf8');
  return s.endsWith('\r') ? s.slice(0, -1) : s;
};

export async function tailLines(fh: FileHandle, opts: TailOptions): Promise<TailResult> {
  let end = opts.size;
  const found: string[] = [];
  if (opts.size === 0 || (opts.count <= 0 && !opts.completeOnly)) return { lines: [], end };

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
    if (opts.count <= 0) return true;
    const line = decode(bytes);
    if (opts.stop?.(line)) return true;
    if (opts.accept(line)) found.push(line);
    return found.length >= opts.count;
  };
  const buf = Buffer.alloc(CHUNK);
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const { bytesRead: n } = await fh.read(buf, 0, len, pos);
    if (n < len) break; // the file shrank under us: give what we have
    const chunk = Buffer.concat([buf.subarray(0, n), carry]);
    let stopAt = chunk.length;
    for (let i = chunk.length - 1 - carry.length; i >= 0; i--) {
      if (chunk[i] !== NL) continue;
      if (take(chunk.subarray(i + 1, stopAt))) return { lines: found.reverse(), end };
      stopAt = i;
    }
    carry = Buffer.from(chunk.subarray(0, stopAt));
  }
  if (pos === 0 && (carry.length > 0 || !last)) take(carry);
  return { lines: found.reverse(), end };
}
