/**
 * The resolved-config dump printed by `ldirectord --check --json`
 * (reference/config-dump.md). Field names are a contract with tools and tests.
 */
import { DAEMON_STATUS, DAEMON_STATUS_ALL, type Config, type VirtualService } from './model';

/** Bitmask → the names Perl's parse_emailalertstatus accepts. */
export function emailStatusNames(mask: number): string[] {
  if (mask === DAEMON_STATUS_ALL) return ['all'];
  if (mask === 0) return ['none'];
  return (Object.keys(DAEMON_STATUS) as Array<keyof typeof DAEMON_STATUS>).filter((k) => mask & DAEMON_STATUS[k]);
}

export function dumpConfig(cfg: Config): object {
  const g = cfg.global;
  return {
    global: {
      checkinterval: g.checkinterval,
      checktimeout: g.checktimeout,
      negotiatetimeout: g.negotiatetimeout,
      failurecount: g.failurecount,
      checkcount: g.checkcount,
      autoreload: g.autoreload,
      quiescent: g.quiescent,
      readdquiescent: g.readdquiescent,
      cleanstop: g.cleanstop,
      fork: g.fork,
      supervised: g.supervised,
      logfile: g.logfile,
      maintenancedir: g.maintenancedir,
      callback: g.callback,
      fallbackcommand: g.fallbackcommand,
      emailalert: g.emailalert,
      emailalertfrom: g.emailalertfrom,
      emailalertfreq: g.emailalertfreq,
      emailalertstatus: emailStatusNames(g.emailalertstatus),
      smtp: g.smtp,
      execute: g.execute,
      fallback: g.fallback && { address: g.fallback.address, port: g.fallback.port, forward: g.fallback.forward },
      fallback6: g.fallback6 && { address: g.fallback6.address, port: g.fallback6.port, forward: g.fallback6.forward },
    },
    virtuals: cfg.virtuals.map(dumpVirtual),
    warnings: cfg.warnings,
  };
}

function dumpVirtual(v: VirtualService): object {
  return {
    line: v.line,
    id: v.id,
    protocol: v.protocol,
    address: v.address,
    port: v.port,
    fwmark: v.fwmark,
    ipv6: v.ipv6,
    scheduler: v.scheduler,
    persistent: v.persistent,
    netmask: v.netmask,
    ops: v.ops,
    schedflags: v.schedflags,
    checktype: v.checktype,
    negotiateEvery: v.negotiateEvery,
    service: v.service,
    checkport: v.checkport,
    request: v.request,
    receive: v.receive,
    httpmethod: v.httpmethod,
    virtualhost: v.virtualhost,
    login: v.login,
    passwd: v.passwd,
    database: v.database,
    secret: v.secret,
    checkcommand: v.checkcommand,
    checktimeout: v.checktimeout,
    negotiatetimeout: v.negotiatetimeout,
    checkinterval: v.checkinterval,
    checkcount: v.checkcount,
    failurecount: v.failurecount,
    quiescent: v.quiescent,
    cleanstop: v.cleanstop,
    fallback: v.fallback && { address: v.fallback.address, port: v.fallback.port, forward: v.fallback.forward },
    fallbackcommand: v.fallbackcommand,
    emailalert: v.emailalert,
    emailalertfreq: v.emailalertfreq,
    emailalertstatus: emailStatusNames(v.emailalertstatus),
    smtp: v.smtp,
    monitorfile: v.monitorfile,
    servicename: v.servicename,
    comment: v.comment,
    reals: v.reals.map((r) => ({
      line: r.line,
      address: r.address,
      port: r.port,
      forward: r.forward,
      weight: r.weight,
      request: r.request,
      receive: r.receive,
      lower: r.lower,
      upper: r.upper,
    })),
  };
}
