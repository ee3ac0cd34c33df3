/**
 * Appending to the files the daemon writes (the log file, monitorfiles), as the original
 * did (open for append, write, close: logrotate needs no signal), but safely:
 *   - never through a symlink (O_NOFOLLOW), never waiting on a FIFO (O_NONBLOCK), and only
 *     to a regular file: a link, FIFO, device or directory planted at the path is refused;
 *   - a new file gets FILE_MODE;
 *   - a write that stops halfway (a full disk) is followed, at the next write that works, by
 *     a newline first, so no half line runs into the next one;
 *   - one write in flight per file, lines in order; each write is bounded by the batch.
 */
import { close, closeSync, constants, fstat, fstatSync, open, openSync, write, type Stats } from 'node:fs';

/** The mode of a log or monitor file the daemon creates (see README "Differences"). */
export const FILE_MODE = 0o640;

const FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Why a path is refused, in words an operator reads; the errno for the rest. */
export class AppendError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }

  /** The path is there but is not a file the daemon writes to (a symlink, a FIFO, a device). */
  get unsafe(): boolean {
    return this.code === 'ELOOP' || this.code === 'ENXIO' || this.code === 'EINVAL';
  }
}

/**
 * Whether what is open at `path` may be appended to: a regular file, or /dev/null (a log
 * thrown away on purpose). A device, FIFO, socket or directory is not.
 */
function refusal(path: string, st: Stats): AppendError | null {
  if (st.isFile() || (path === '/dev/null' && st.isCharacterDevice())) return null;
  return new AppendError('it is not a regular file', 'EINVAL');
}

/**
 * Open `path` for append as a test (the original's `open(F, ">>$f")` at start), with the
 * same rules as every later write. Null if it can be written, else why not; `unsafe` when
 * the path is something the daemon will not write to (a symlink, a FIFO, a device), as
 * opposed to a file it cannot open.
 */
export function probeAppend(path: string): AppendError | null {
  let fd: number;
  try {
    fd = openSync(path, FLAGS, FILE_MODE);
  } catch (e) {
    return describe(e as NodeJS.ErrnoException);
  }
  try {
    return refusal(path, fstatSync(fd));
  } catch (e) {
    return describe(e as NodeJS.ErrnoException);
  } finally {
    closeSync(fd);
  }
}

function describe(e: NodeJS.ErrnoException): AppendError {
  const code = e.code ?? 'EIO';
  if (code === 'ELOOP') return new AppendError('it is a symbolic link, which is not followed', code);
  if (code === 'ENXIO') return new AppendError('it is a FIFO with no reader', code);
  if (code === 'EISDIR') return new AppendError('it is a directory', code);
  return new AppendError(e.message, code);
}

export class SafeAppender {
  /** The last write stopped in the middle of a line (a full disk): finish it first. */
  private halfLine = false;

  constructor(readonly path: string) {}

  /** Append `text` (whole lines). Calls back with null, or why nothing (or not all) was written. */
  append(text: string, done: (err: AppendError | null) => void): void {
    const data = Buffer.from(this.halfLine ? '\n' + text : text, 'utf8');
    open(this.path, FLAGS, FILE_MODE, (err, fd) => {
      if (err) return done(describe(err));
      const end = (e: AppendError | null) => close(fd, () => done(e));
      fstat(fd, (serr, st) => {
        if (serr) return end(describe(serr));
        const refused = refusal(this.path, st);
        if (refused) return end(refused);
        let off = 0;
        const more = () =>
          write(fd, data, off, data.length - off, null, (werr, n) => {
            if (werr) {
              // Something was written and the rest was not: the line is cut in the middle.
              if (off > 0) this.halfLine = true;
              return end(describe(werr));
            }
            off += n;
            if (off < data.length) return more();
            this.halfLine = false;
            end(null);
          });
        more();
      });
    });
  }
}
