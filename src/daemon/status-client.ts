/**
 * Ask a running daemon over its status socket: one JSON request, one JSON answer.
 * The socket lives at /run/ldirectord.<cfgname>.sock (mode 0600, root only);
 * LDIRECTORD_RUN_DIR moves it (tests, unprivileged use).
 */
import { createConnection } from 'node:net';
import { join } from 'node:path';

export function socketPath(cfgname: string): string {
  return join(process.env.LDIRECTORD_RUN_DIR || '/run', `ldirectord.${cfgname}.sock`);
}

export function queryDaemon(cfgname: string, cmd: string, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath(cfgname));
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer from ${socketPath(cfgname)} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(JSON.stringify({ cmd }) + '\n'));
    sock.on('data', (b) => {
      buf += b.toString('utf8');
    });
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf));
      } catch (e) {
        reject(e);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
