/**
 * The files the parser reads or looks at, opened safely: the config file itself (a regular
 * file of bounded size, never a FIFO that would block), and the log and monitor files the
 * original opens once at start as a test (never through a symlink).
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { errnoText } from '../perl/strings';
import { probeAppend } from '../util/append';
import { ConfigError } from './model';
import type { FileProbe } from './values';

export const realFileProbe: FileProbe = {
  isDirectory(path) {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  },
  tryAppend(path) {
    // Never through a symlink, never waiting on a FIFO, only a regular file.
    const e = probeAppend(path);
    if (e === null) return null;
    return e.unsafe ? { unsafe: true, text: e.message } : { unsafe: false, text: errnoText(e) };
  },
};

/** The most a config file may be: a config of 100,000 reals is about 4 MiB. */
export const MAX_CONFIG_BYTES = 64 * 1024 * 1024;

/** The bytes of a config file, read safely (see readConfigFile). */
export function readConfigBytes(file: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new ConfigError(file, 0, `can not open file ${file} (${errnoText(e)})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ConfigError(file, 0, `can not open file ${file} (not a regular file)`);
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigError(file, 0, `${file} is larger than ${MAX_CONFIG_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    for (let n; got < buf.length && (n = readSync(fd, buf, got, buf.length - got, got)) > 0;) got += n;
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}
