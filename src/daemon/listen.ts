/**
 * The address of the daemon's HTTP listener (metrics, status page): `--metrics [ADDR:]PORT`.
 * Apart from metrics.ts so that commands which only check it (status, stop) do not load the
 * HTTP server.
 */

/** PORT, :PORT, ADDR:PORT or [IPv6]:PORT; a bare port or `:PORT` is 127.0.0.1. */
export function parseListen(spec: string): { host: string; port: number } {
  // PORT, :PORT, ADDR:PORT or [IPv6]:PORT
  const m = /^(?:(?:\[([^\]]+)\]|([^:[\]]*)):)?(\d+)$/.exec(spec.trim());
  if (!m) throw new Error(`invalid --metrics address ${JSON.stringify(spec)} (use [ADDR:]PORT)`);
  const host = m[1] ?? (m[2] || '127.0.0.1');
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid --metrics port ${port}`);
  return { host, port };
}
