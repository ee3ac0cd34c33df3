/**
 * Opt-in Prometheus metrics: `--metrics [ADDR:]PORT` or LDIRECTORD_METRICS. Off by
 * default; a bare port or `:PORT` binds to 127.0.0.1, another address only when given.
 *
 *   ldirectord_real_up{virtual,real}                  1 up, 0 down or unchecked
 *   ldirectord_real_weight{virtual,real}              weight in the kernel (absent: -1)
 *   ldirectord_real_configured_weight{virtual,real}, ldirectord_real_draining{virtual,real}
 *   ldirectord_virtual_panic{virtual}, ldirectord_virtual_quorum_reached{virtual} (pool policy)
 *   ldirectord_real_check_latency_seconds{virtual,real}
 *   ldirectord_real_transitions_total{virtual,real,to}
 *   ldirectord_checks_total{result}
 *   ldirectord_checks_in_flight
 *   ldirectord_reconciles_total, ldirectord_reconcile_duration_seconds (last run)
 *   ldirectord_ipvsadm_commands_total, ldirectord_ipvsadm_failures_total
 *   ldirectord_event_loop_lag_seconds (p99 over the last scrape interval)
 *   ldirectord_event_loop_lag_max_seconds (the highest over the last scrape interval)
 *   ldirectord_config_last_reload_successful, ldirectord_config_last_reload_success_timestamp_seconds
 *   ldirectord_sync_daemon_running{state,interface,syncid} (only with syncdaemon=)
 *     (the names Prometheus' own reloaders use)
 *   process_resident_memory_bytes, nodejs_heap_size_used_bytes, nodejs_external_memory_bytes
 *     (the names Prometheus' own Node.js client uses, so existing dashboards work)
 * Label values pass through the redactor like everything the daemon writes.
 *
 * Only `GET /metrics` (and HEAD) is answered, and the status page's paths when it is on
 * (status-page.ts): 404 for another path, 405 for another method. At most MAX_CONNECTIONS
 * at once, each closed after IDLE_MS without a request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { EngineEvent } from '../engine/events';
import type { SyncDaemonView } from '../reconcile/sync-daemon';
import { hostPort } from '../parser/model';
import type { Daemon, DaemonPlugin } from './daemon';
import { SECURITY_HEADERS, type StatusPage } from './status-page';

/** Connections the endpoint serves at once; more are refused (closed at accept). */
const MAX_CONNECTIONS = 32;
/** A connection idle (or a request unfinished) this long is closed. */
const IDLE_MS = 10_000;

const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export class Metrics implements DaemonPlugin {
  private server: Server | null = null;
  private readonly transitions = new Map<string, number>();
  private checksUp = 0;
  private checksDown = 0;
  private lag: IntervalHistogram | null = null;
  private daemon: Daemon | null = null;

  /** `page`: the status page, served on this listener too (--status-page). */
  constructor(
    private readonly listen: { host: string; port: number },
    private readonly page: StatusPage | null = null,
  ) {}

  /** Listen now: a port in use is a start error (an operator asked for this endpoint). */
  bind(): Promise<void> {
    this.server = createServer(
      { maxHeaderSize: 8 * 1024, requestTimeout: IDLE_MS, headersTimeout: IDLE_MS },
      (req, res) => this.answer(req, res),
    );
    // A scraper needs one connection; a flood of them must not take the daemon's descriptors.
    this.server.maxConnections = MAX_CONNECTIONS;
    this.server.keepAliveTimeout = IDLE_MS;
    this.server.setTimeout(IDLE_MS, (sock) => sock.destroy());
    this.server.on('clientError', (_e, sock) => sock.destroy());
    this.server.unref();
    const server = this.server;
    const where = hostPort(this.listen.host, this.listen.port);
    return new Promise((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`metrics endpoint ${where}: ${(e as Error).message}`)));
      server.listen(this.listen.port, this.listen.host, () => resolve());
    });
  }

  /** Every response says what it is and may load nothing from elsewhere (the status page's rules). */
  private answer(req: IncomingMessage, res: ServerResponse): void {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const d = this.daemon;
    const path = (req.url ?? '').replace(/\?.*$/, '');
    const page = this.page?.route(path) ?? null;
    if (path !== '/metrics' && !page) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (!d) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('starting\n');
      return;
    }
    if (page) {
      page(req, res, d);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(req.method === 'HEAD' ? undefined : d.redactor.redact(this.render()));
  }

  async start(d: Daemon): Promise<void> {
    if (!this.server) await this.bind();
    this.daemon = d;
    this.page?.attach(d);
    this.lag = monitorEventLoopDelay({ resolution: 20 });
    this.lag.enable();
    const port = (this.server!.address() as { port: number }).port;
    d.log.info(`metrics on http://${hostPort(this.listen.host, port)}/metrics`);
    if (this.page) d.log.info(`status page on http://${hostPort(this.listen.host, port)}/`);
  }

  event(e: EngineEvent): void {
    if (e.type === 'check') {
      if (e.result.up) this.checksUp++;
      else this.checksDown++;
    } else if (e.type === 'transition' && (e.t.kind === 'up' || e.t.kind === 'down')) {
      const m = e.t.member.member;
      const key = `virtual="${esc(m.v.id)}",real="${esc(hostPort(m.r.address, m.r.port))}",to="${e.t.kind}"`;
      this.transitions.set(key, (this.transitions.get(key) ?? 0) + 1);
    }
  }

  render(): string {
    const d = this.daemon!;
    const e = d.engine;
    const up: string[] = [];
    const weight: string[] = [];
    const configured: string[] = [];
    const draining: string[] = [];
    const latency: string[] = [];
    const panic: string[] = [];
    const quorum: string[] = [];
    for (const v of e.view()) {
      panic.push(`ldirectord_virtual_panic{virtual="${esc(v.id)}"} ${v.panic ? 1 : 0}`);
      if (v.quorum)
        quorum.push(`ldirectord_virtual_quorum_reached{virtual="${esc(v.id)}"} ${v.quorum.reached ? 1 : 0}`);
      for (const r of v.reals) {
        const labels = `virtual="${esc(v.id)}",real="${esc(r.real)}"`;
        up.push(`ldirectord_real_up{${labels}} ${r.state === 'up' ? 1 : 0}`);
        weight.push(`ldirectord_real_weight{${labels}} ${r.kernelWeight ?? -1}`);
        configured.push(`ldirectord_real_configured_weight{${labels}} ${r.weight}`);
        draining.push(`ldirectord_real_draining{${labels}} ${r.drain ? 1 : 0}`);
        if (r.lastMs !== null) latency.push(`ldirectord_real_check_latency_seconds{${labels}} ${r.lastMs / 1000}`);
      }
    }
    const st = e.reconciler.stats;
    const lagP99 = this.lag ? this.lag.percentile(99) / 1e9 : 0;
    const lagMax = this.lag ? this.lag.max / 1e9 : 0;
    this.lag?.reset();
    const mem = process.memoryUsage();
    const lines = [
      '# HELP ldirectord_real_up Whether the real server is up (1) or down/unchecked (0).',
      '# TYPE ldirectord_real_up gauge',
      ...up,
      '# HELP ldirectord_real_weight Weight of the real server in the kernel table (-1: absent).',
      '# TYPE ldirectord_real_weight gauge',
      ...weight,
      '# HELP ldirectord_real_configured_weight Weight of the real server in the config.',
      '# TYPE ldirectord_real_configured_weight gauge',
      ...configured,
      '# HELP ldirectord_real_draining Whether an operator drained the real server (1: draining or drained).',
      '# TYPE ldirectord_real_draining gauge',
      ...draining,
      '# HELP ldirectord_virtual_panic Whether the virtual keeps every real in service (panicthreshold).',
      '# TYPE ldirectord_virtual_panic gauge',
      ...panic,
      '# HELP ldirectord_virtual_quorum_reached Whether the weight of the reals up reaches quorum= (only with quorum=).',
      '# TYPE ldirectord_virtual_quorum_reached gauge',
      ...quorum,
      '# HELP ldirectord_real_check_latency_seconds Duration of the last check.',
      '# TYPE ldirectord_real_check_latency_seconds gauge',
      ...latency,
      '# HELP ldirectord_real_transitions_total Up/down transitions of a real server.',
      '# TYPE ldirectord_real_transitions_total counter',
      ...[...this.transitions].map(([k, n]) => `ldirectord_real_transitions_total{${k}} ${n}`),
      '# HELP ldirectord_checks_total Checks completed, by result.',
      '# TYPE ldirectord_checks_total counter',
      `ldirectord_checks_total{result="up"} ${this.checksUp}`,
      `ldirectord_checks_total{result="down"} ${this.checksDown}`,
      '# HELP ldirectord_checks_in_flight Checks running now.',
      '# TYPE ldirectord_checks_in_flight gauge',
      `ldirectord_checks_in_flight ${e.scheduler.inFlightNow}`,
      '# HELP ldirectord_reconciles_total Reconciles run.',
      '# TYPE ldirectord_reconciles_total counter',
      `ldirectord_reconciles_total ${st.reconciles}`,
      '# HELP ldirectord_reconcile_duration_seconds Duration of the last reconcile.',
      '# TYPE ldirectord_reconcile_duration_seconds gauge',
      `ldirectord_reconcile_duration_seconds ${st.lastMs / 1000}`,
      '# HELP ldirectord_ipvsadm_commands_total ipvsadm runs that changed the table.',
      '# TYPE ldirectord_ipvsadm_commands_total counter',
      `ldirectord_ipvsadm_commands_total ${st.commands}`,
      '# HELP ldirectord_ipvsadm_failures_total Reconciles that failed (ipvsadm error or unreadable table).',
      '# TYPE ldirectord_ipvsadm_failures_total counter',
      `ldirectord_ipvsadm_failures_total ${st.failures}`,
      '# HELP ldirectord_event_loop_lag_seconds Event loop delay, p99 since the last scrape.',
      '# TYPE ldirectord_event_loop_lag_seconds gauge',
      `ldirectord_event_loop_lag_seconds ${lagP99.toFixed(6)}`,
      '# HELP ldirectord_event_loop_lag_max_seconds Event loop delay, highest since the last scrape: no check starts later than this.',
      '# TYPE ldirectord_event_loop_lag_max_seconds gauge',
      `ldirectord_event_loop_lag_max_seconds ${lagMax.toFixed(6)}`,
      '# HELP ldirectord_config_last_reload_successful Whether the last config load (start or reload) succeeded.',
      '# TYPE ldirectord_config_last_reload_successful gauge',
      `ldirectord_config_last_reload_successful ${d.stats.lastReloadError ? 0 : 1}`,
      '# HELP ldirectord_config_last_reload_success_timestamp_seconds Time of the last successful config load.',
      '# TYPE ldirectord_config_last_reload_success_timestamp_seconds gauge',
      `ldirectord_config_last_reload_success_timestamp_seconds ${Date.parse(d.stats.lastReloadOkAt) / 1000}`,
      ...syncDaemonMetrics(e.syncDaemons.view()),
      '# HELP process_resident_memory_bytes Resident memory size in bytes.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${mem.rss}`,
      '# HELP nodejs_heap_size_used_bytes JavaScript heap in use, in bytes.',
      '# TYPE nodejs_heap_size_used_bytes gauge',
      `nodejs_heap_size_used_bytes ${mem.heapUsed}`,
      '# HELP nodejs_external_memory_bytes Memory outside the JavaScript heap (Buffers), in bytes.',
      '# TYPE nodejs_external_memory_bytes gauge',
      `nodejs_external_memory_bytes ${mem.external}`,
    ];
    return lines.join('\n') + '\n';
  }

  stop(): Promise<void> {
    this.lag?.disable();
    const server = this.server;
    if (!server) return Promise.resolve();
    return new Promise((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  }
}

/** Per wanted sync thread: 1 while the kernel runs it as configured. Nothing without syncdaemon=. */
function syncDaemonMetrics(s: SyncDaemonView | null): string[] {
  if (!s) return [];
  return [
    '# HELP ldirectord_sync_daemon_running Whether the IPVS connection sync thread runs as configured (syncdaemon=).',
    '# TYPE ldirectord_sync_daemon_running gauge',
    ...s.threads.map(
      (t) =>
        `ldirectord_sync_daemon_running{state="${t.state}",interface="${t.interface}",syncid="${t.syncid}"} ${t.running ? 1 : 0}`,
    ),
  ];
}
