/**
 * The status socket's protocol, for both ends: one JSON request line, one JSON answer.
 * The daemon serves it (status.ts); `status -v`, `show` and `--dry-run` ask (cli/).
 *
 * The socket lives at /run/ldirectord.<cfgname>.sock (mode 0600, root only);
 * LDIRECTORD_RUN_DIR moves it (tests, unprivileged use).
 */
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { VirtualView } from '../engine/view';
import type { SyncDaemonView } from '../reconcile/sync-daemon';
import type { Retired } from '../reconcile/diff';

/** What the daemon answers `status` with: itself, then the read model. */
export interface StatusAnswer {
  pid: number;
  /** This daemon's version (package.json). */
  version: string;
  config: string;
  /** The daemon's clock when it answered (the status page counts ages from it). */
  now: string;
  started: string;
  dryRun: boolean;
  ipvsadm: string;
  checks: { probes: number; inFlight: number; started: number; completed: number };
  reconcile: { runs: number; commands: number; failures: number; lastMs: number; lastError: string | null };
  /** Where the daemon logs now (`logs` reads it when the file on disk no longer parses). */
  logfile: string;
  reloads: {
    reloads: number;
    reloadFailures: number;
    lastReloadError: string | null;
    lastReloadFailedAt: string | null;
    lastReloadOkAt: string;
  };
  virtuals: VirtualView[];
  /** The IPVS connection sync threads (syncdaemon=); null when the config never named them. */
  syncDaemon: SyncDaemonView | null;
}

/** What `drain` and `undrain` answer: the reals (`<virtual id>|<real>`) they changed. */
export interface DrainAnswer {
  changed: string[];
  error?: string;
}

export interface Answers {
  status: StatusAnswer;
  /** The services the daemon manages (a dry-run of another config shows what it would purge). */
  managed: { config: string; services: Retired[] };
  ping: { ok: true };
  drain: DrainAnswer;
  undrain: DrainAnswer;
}
export type Command = keyof Answers;

/** The request line: a command, and for drain/undrain which real, where, and how long at most. */
export interface Request {
  cmd: Command;
  real?: string;
  virtual?: string | null;
  timeout?: number;
}

/** The longest request line the daemon reads. */
const MAX_REQUEST = 4096;

export function socketPath(cfgname: string): string {
  return join(process.env.LDIRECTORD_RUN_DIR || '/run', `ldirectord.${cfgname}.sock`);
}

/** Ask the daemon for `cmd`, bounded by `timeoutMs`. */
export function query<C extends Command>(
  cfgname: string,
  cmd: C,
  timeoutMs = 5000,
  args: Omit<Request, 'cmd'> = {},
): Promise<Answers[C]> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath(cfgname));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer from ${socketPath(cfgname)} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(JSON.stringify({ ...args, cmd }) + '\n'));
    sock.on('data', (b: Buffer) => chunks.push(b));
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Answers[C]);
      } catch (e) {
        reject(e as Error);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * Serve the protocol: read one request line (at most MAX_REQUEST bytes, within 5 s), answer
 * with `answer(cmd)` as one JSON document (passed through `finish`, the redactor), close.
 */
export function serveStatus(answer: (req: Request) => object, finish: (json: string) => string): Server {
  const known = new Set<string>(['status', 'managed', 'ping', 'drain', 'undrain']);
  return createServer((sock) => {
    let buf = '';
    sock.setTimeout(5000, () => sock.destroy());
    sock.on('error', () => undefined);
    sock.on('data', (b) => {
      buf += b.toString('utf8');
      if (buf.length > MAX_REQUEST) return void sock.destroy();
      if (!buf.includes('\n')) return;
      let req: Partial<Record<keyof Request, unknown>> = {};
      try {
        req = JSON.parse(buf.split('\n')[0]!) as typeof req;
      } catch {
        // answered below
      }
      const cmd = String(req?.cmd ?? '');
      const out = known.has(cmd)
        ? answer({
            cmd: cmd as Command,
            real: typeof req.real === 'string' ? req.real : undefined,
            virtual: typeof req.virtual === 'string' ? req.virtual : null,
            timeout: typeof req.timeout === 'number' ? req.timeout : undefined,
          })
        : { error: `unknown request ${JSON.stringify(cmd.slice(0, 64))}` };
      sock.end(finish(JSON.stringify(out)) + '\n');
    });
  });
}
