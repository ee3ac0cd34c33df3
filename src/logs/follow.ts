/**
 * Follow a log file like `tail -F`: print what is appended, and keep following the *path*
 * through everything logrotate and operators do to it:
 *
 *   rename rotation   `mv log log.1`; the daemon opens the path for every write, so a new
 *                     file appears there. What the old file got after our last read is
 *                     read through the descriptor still open on it, then the new file is
 *                     read from its start.
 *   copytruncate      the file shrinks (or is rewritten: the bytes before our position
 *                     change): read it again from offset 0.
 *   missing file      the path does not exist yet, or disappears for a while: wait for it
 *                     and read it from the start when it comes (back).
 *
 * chokidar watches the file's directory (only that one entry; its parent while the
 * directory does not exist), so a change is seen at once; a one-second poll backs it up for
 * what a watcher can miss (network filesystems, a deeper missing path, lost events).
 * Every signal leads to the same idempotent step, never two at a time: stat the path,
 * finish the old file if the path now names another, read whatever is new.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

const CHUNK = 64 * 1024;
/** Bytes just before the read position kept to notice a file rewritten in place. */
const GUARD = 64;

export interface FollowOptions {
  path: string;
  /** Complete lines, oldest first, without newlines. */
  onLines(lines: string[]): void;
  /** What happened to the file (rotated, truncated, missing): for stderr. */
  onNotice(message: string): void;
  /** The backup poll; default 1000 ms. */
  pollMs?: number;
  /**
   * Continue from an already opened file (whose last lines were printed): the handle, the
   * offset to go on from and guardAt(handle, position) taken before the printing. Without
   * it, the path is waited for and read from its start.
   */
  from?: { handle: FileHandle; position: number; guard: Buffer };
}

interface Current {
  handle: FileHandle;
  dev: number;
  ino: number;
  position: number;
  /** The start of a line whose newline has not been written yet. */
  partial: Buffer;
  guard: Buffer;
}

export class LogFollower {
  private readonly path: string;
  private readonly dir: string;
  private readonly name: string;
  private current: Current | null = null;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private missingSaid = false;
  private lastError: string | null = null;

  constructor(private readonly opts: FollowOptions) {
    this.path = resolve(opts.path);
    this.dir = dirname(this.path);
    this.name = basename(this.path);
  }

  async start(): Promise<void> {
    if (this.opts.from) {
      const { handle, position, guard } = this.opts.from;
      const st = await handle.stat();
      this.current = { handle, dev: st.dev, ino: st.ino, position, partial: Buffer.alloc(0), guard };
    }
    const { dir, name } = this;
    this.watcher = watch(dir, {
      depth: 0,
      ignoreInitial: true,
      // Only the directory (or, while it does not exist, the parent chokidar watches for it)
      // and our file: a /var/log full of files costs nothing.
      ignored: (p: string) => !(p === dir || dir.startsWith(p.endsWith(sep) ? p : p + sep) || basename(p) === name),
      ignorePermissionErrors: true,
    });
    // chokidar's own events swallow some renames (its `atomic` handling): the raw events
    // of the directory and of the file are the prompt signal, its events a second one.
    this.watcher.on('raw', (_event, entry, details) => {
      if (entry === name || (details as { watchedPath?: string } | undefined)?.watchedPath === this.path) this.kick();
    });
    this.watcher.on('all', (event, p) => {
      const abs = resolve(p);
      if (abs === this.path) this.kick();
      else if (event === 'addDir' && abs === dir) this.rewatch();
    });
    this.watcher.on('error', () => undefined); // the poll covers what the watcher cannot see
    // What changes before the watcher is in place is caught by the look after it is.
    await new Promise<void>((res) => {
      const t = setTimeout(res, 2000);
      this.watcher!.once('ready', () => {
        clearTimeout(t);
        res();
      });
    });
    this.timer = setInterval(() => this.kick(), this.opts.pollMs ?? 1000);
    this.kick();
    await this.running;
  }

  /** The folder was made after we started: chokidar watched its parent until now. */
  private rewatch(): void {
    this.watcher?.add(this.dir);
    this.kick();
  }

  /** Stop watching and let go of the file. Lines already handed over stay handed over. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.watcher?.close();
    this.watcher = null;
    await this.running?.catch(() => undefined);
    await this.current?.handle.close().catch(() => undefined);
    this.current = null;
  }

  /** Look at the file now; steps never overlap, and a kick during one runs another after it. */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.step();
          this.lastError = null;
        } catch (e) {
          // Say it once, not at every poll while it lasts.
          const msg = `${this.path}: ${(e as Error).message}`;
          if (msg !== this.lastError) this.opts.onNotice(msg);
          this.lastError = msg;
        }
      } while (this.again && !this.closed);
    })().finally(() => {
      this.running = null;
    });
  }

  private async step(): Promise<void> {
    let st: { dev: number; ino: number } | null;
    try {
      st = await stat(this.path);
    } catch {
      st = null;
    }
    if (this.closed) return;
    const cur = this.current;
    if (cur && (!st || st.dev !== cur.dev || st.ino !== cur.ino)) {
      // Rotated away or deleted: what the old file got since our last read is still ours.
      await this.drain(cur);
      if (cur.partial.length) this.opts.onLines([decode(cur.partial)]);
      await cur.handle.close().catch(() => undefined);
      this.current = null;
      this.opts.onNotice(
        st
          ? `${this.path} has been replaced; following the new file`
          : `${this.path} has disappeared; waiting for it to come back`,
      );
      this.missingSaid = !st;
    }
    if (!this.current) {
      if (!st) {
        if (!this.missingSaid) this.opts.onNotice(`${this.path} does not exist; waiting for it`);
        this.missingSaid = true;
        return;
      }
      let handle: FileHandle;
      try {
        handle = await open(this.path, 'r');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return; // gone again before we could open it
        throw e;
      }
      const fst = await handle.stat();
      if (this.closed) {
        await handle.close();
        return;
      }
      // Everything in a file found after the start is new.
      this.current = {
        handle,
        dev: fst.dev,
        ino: fst.ino,
        position: 0,
        partial: Buffer.alloc(0),
        guard: Buffer.alloc(0),
      };
      if (this.missingSaid) {
        this.opts.onNotice(`${this.path} has appeared; following it`);
        this.watcher?.add(this.dir);
      }
      this.missingSaid = false;
    }
    await this.drain(this.current);
  }

  /** Read from the position to the end, handing over complete lines. */
  private async drain(cur: Current): Promise<void> {
    const { size } = await cur.handle.stat();
    let truncated = size < cur.position;
    if (!truncated && cur.guard.length) {
      const now = await guardAt(cur.handle, cur.position);
      truncated = !now.equals(cur.guard);
    }
    if (truncated) {
      this.opts.onNotice(`${this.path} has been truncated; reading it from the start`);
      cur.position = 0;
      cur.partial = Buffer.alloc(0);
      cur.guard = Buffer.alloc(0);
    }
    const buf = Buffer.alloc(CHUNK);
    for (;;) {
      const { bytesRead } = await cur.handle.read(buf, 0, CHUNK, cur.position);
      if (bytesRead === 0) break;
      const data = buf.subarray(0, bytesRead);
      cur.position += bytesRead;
      cur.guard = Buffer.from(Buffer.concat([cur.guard, data]).subarray(-GUARD));
      const text = Buffer.concat([cur.partial, data]);
      const lastNl = text.lastIndexOf(0x0a);
      if (lastNl < 0) {
        cur.partial = Buffer.from(text);
        continue;
      }
      cur.partial = Buffer.from(text.subarray(lastNl + 1));
      const lines: string[] = [];
      let startAt = 0;
      for (let i = text.indexOf(0x0a); i >= 0 && i <= lastNl; i = text.indexOf(0x0a, i + 1)) {
        lines.push(decode(text.subarray(startAt, i)));
        startAt = i + 1;
      }
      if (!this.closed) this.opts.onLines(lines);
      if (bytesRead < CHUNK) break;
    }
  }
}

/**
 * The bytes just before `position`: if they change, the file was rewritten in place
 * (copytruncate followed by more than was there). Take it before printing what was read,
 * so a rotation right after the printing is seen as one.
 */
export async function guardAt(handle: FileHandle, position: number): Promise<Buffer> {
  const len = Math.min(GUARD, position);
  const buf = Buffer.alloc(len);
  const { bytesRead } = await handle.read(buf, 0, len, position - len);
  return buf.subarray(0, bytesRead);
}

function decode(b: Buffer): string {
  const s = b.toString('utf8');
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}
