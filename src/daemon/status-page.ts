/**
 * The opt-in status page (`--status-page`, with `--metrics`): one HTML page, its CSS and a
 * small script from the package's `web/` folder, and `/status.json`, which is the answer
 * `show --json` prints (statusOf: the one read model). The page polls that JSON; nothing
 * is loaded from elsewhere, and nothing on it acts on the director.
 *
 * Served on the metrics listener (metrics.ts), so it has the same address rules: loopback
 * unless an address is given. Every response carries SECURITY_HEADERS; the script renders
 * server text with textContent only, so a real answering `<script>` shows that text.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { gzip, gzipSync } from 'node:zlib';
import type { Daemon } from './daemon';
import { statusOf } from './status';

/** Headers on every answer of the listener: nothing from elsewhere, no sniffing, no framing. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** Where the page's files are: `web/` beside `dist/` in the package. */
const WEB_DIR = join(__dirname, '..', '..', 'web');
/** The largest asset read (they are a few KiB; a bigger file is not ours). */
const MAX_ASSET = 512 * 1024;
/** Answers shorter than this are sent as they are. */
const GZIP_MIN = 1024;

const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'status.html', type: 'text/html; charset=utf-8' },
  '/status.css': { file: 'status.css', type: 'text/css; charset=utf-8' },
  '/status.js': { file: 'status.js', type: 'text/javascript; charset=utf-8' },
};

interface Asset {
  type: string;
  body: Buffer;
  gzipped: Buffer;
}

export type PageHandler = (req: IncomingMessage, res: ServerResponse, d: Daemon) => void;

export class StatusPage {
  private readonly assets = new Map<string, Asset>();

  /** Reads the page's files now, so a broken install is a start error, not a blank page. */
  constructor(dir = WEB_DIR) {
    for (const [path, { file, type }] of Object.entries(ASSETS)) {
      const body = readFileSync(join(dir, file));
      if (body.length > MAX_ASSET) throw new Error(`status page: ${join(dir, file)} is over ${MAX_ASSET} bytes`);
      this.assets.set(path, { type, body, gzipped: gzipSync(body) });
    }
  }

  /** The page shows each real's last checks: the engine keeps them from now on. */
  attach(d: Daemon): void {
    d.engine.keepRecentChecks();
  }

  /** The handler for a path this page serves, or null. */
  route(path: string): PageHandler | null {
    if (path === '/status.json') return (req, res, d) => sendJson(req, res, d);
    const asset = this.assets.get(path);
    if (!asset) return null;
    return (req, res) => send(req, res, asset.type, 'no-cache', asset.body, asset.gzipped);
  }
}

/** The answer of `show --json`, word for word: the page and the command share one model. */
function sendJson(req: IncomingMessage, res: ServerResponse, d: Daemon): void {
  const body = Buffer.from(d.redactor.redact(JSON.stringify({ running: true, ...statusOf(d) })));
  if (body.length < GZIP_MIN || !wantsGzip(req)) {
    send(req, res, 'application/json', 'no-store', body, null);
    return;
  }
  gzip(body, (err, gzipped) => send(req, res, 'application/json', 'no-store', body, err ? null : gzipped));
}

function wantsGzip(req: IncomingMessage): boolean {
  return /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? '').slice(0, 256));
}

function send(
  req: IncomingMessage,
  res: ServerResponse,
  type: string,
  cache: string,
  body: Buffer,
  gzipped: Buffer | null,
): void {
  const zipped = gzipped !== null && body.length >= GZIP_MIN && wantsGzip(req);
  const out = zipped ? gzipped : body;
  res.writeHead(200, {
    'content-type': type,
    'cache-control': cache,
    vary: 'accept-encoding',
    'content-length': out.length,
    ...(zipped ? { 'content-encoding': 'gzip' } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : out);
}
