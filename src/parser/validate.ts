/**
 * Checks the Perl daemon only makes when a check runs, made here at parse time so that
 * `--check`, start and reload reject the file instead of a real server silently staying
 * down (or the daemon crashing) later. Each error names the line that causes it. What a
 * check needs is declared by its kind (checks/kind.ts), so a new kind needs nothing here.
 *
 * - A `receive` string that a check will use as a pattern must compile (Perl died at the
 *   first check on an invalid pattern; a construct with no faithful equivalent is
 *   reported the same way).
 * - A service the registry marks unsupported (oracle) is refused with what to use instead.
 * - A check that needs a login and a request (SQL) refuses a virtual without them (Perl
 *   logged "Must specify a login and request string …" at every check and kept the real down).
 * - schedflags go to ipvsadm as one argument: only the flag-list shape ipvsadm knows (the
 *   original took any \S+, so `-C` or `x;y` would have reached the command line).
 */
import { SERVICES } from '../checks/registry';
import { compileReceive } from '../checks/receive';
import { PerlRegexError } from '../perl/regex';
import { ConfigError, type VirtualService } from './model';

/** The line of directive `name` in virtual `v`, when it was given. */
export type LineOf = (v: VirtualService, name: string) => number | undefined;

const SCHEDFLAGS = /^[a-z0-9][a-z0-9-]*(,[a-z0-9][a-z0-9-]*)*$/;

export function validateForChecks(file: string, virtuals: readonly VirtualService[], lineOf: LineOf): void {
  for (const v of virtuals) {
    const at = (name: string) => lineOf(v, name) ?? v.line;
    const fail = (line: number, msg: string): never => {
      throw new ConfigError(file, line, msg);
    };
    if (v.schedflags !== null && !SCHEDFLAGS.test(v.schedflags)) {
      fail(
        at('schedflags'),
        `invalid sched-flags "${v.schedflags}": a comma-separated list of flag names (e.g. sh-fallback,sh-port)`,
      );
    }
    // ipvsadm refuses it ("Zero port specified for non-persistent service"), at every reconcile.
    if (v.endpoint.kind === 'address' && v.endpoint.port === 0 && v.persistent === null) {
      fail(v.line, 'a virtual service on port 0 must be persistent (persistent=N): ipvsadm refuses it otherwise');
    }
    if (v.checktype !== 'negotiate' && v.checktype !== 'combined') continue;
    const kind = SERVICES.get(v.service)?.kind;
    if (!kind) continue;
    if (kind.usesReceive) {
      compiles(fail, v.receive, at('receive'));
      for (const r of v.reals) if (r.receive !== null) compiles(fail, r.receive, r.line);
    }
    if (kind.unsupported) fail(at('service'), kind.unsupported);
    const lead = `a ${v.service} check needs`;
    const was = '(the original logged "Must specify a login and request string" and kept every real down)';
    if (kind.requires?.login && !v.login) fail(at('service'), `${lead} login="..." ${was}`);
    if (kind.requires?.request) {
      if (!v.request.replace(/^\//, '')) fail(at('service'), `${lead} request="<query>" ${was}`);
      for (const r of v.reals) {
        if (r.request !== null && !r.request.replace(/^\//, '')) fail(r.line, `${lead} a non-empty per-real request`);
      }
    }
  }
}

function compiles(fail: (line: number, msg: string) => never, receive: string, line: number): void {
  try {
    compileReceive(receive);
  } catch (e) {
    if (!(e instanceof PerlRegexError)) throw e;
    fail(line, `invalid receive string "${receive}": ${e.message}`);
  }
}
