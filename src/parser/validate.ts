/**
 * Checks the Perl daemon only makes when a check runs, made here at parse time so that
 * `--check`, start and reload reject the file instead of a real server silently staying
 * down (or the daemon crashing) later. Each error names the line that causes it.
 *
 * - A `receive` string that a check will use as a regex must compile (Perl died at the
 *   first check on an invalid pattern; a Perl construct with no JS equivalent is reported
 *   the same way).
 * - service=oracle has no tested check here (no Oracle server can run in the tests), so a
 *   negotiate check of it is refused with a pointer to what to use instead.
 * - SQL checks need a login and a request (Perl logged "Must specify a login and request
 *   string …" at every check and kept the real down).
 */
import { perlRegex, PerlRegexError, toByteString } from '../perl/regex';
import { ConfigError, type VirtualService } from './model';

/** Services whose negotiate check matches `receive` as a regex. */
const USES_RECEIVE = new Set(['http', 'https', 'http_proxy', 'ldap', 'ldaps', 'dns', 'ftp', 'simpletcp']);
const SQL = new Set(['mysql', 'pgsql', 'oracle']);

export function validateForChecks(
  file: string,
  virtuals: VirtualService[],
  lines: Map<VirtualService, Record<string, number>>,
): void {
  for (const v of virtuals) {
    // schedflags go to ipvsadm as one argument: only the flag-list shape ipvsadm knows
    // (the original took any \S+, so `-C` or `x;y` would have reached the command line).
    if (v.schedflags !== null && !/^[a-z0-9][a-z0-9-]*(,[a-z0-9][a-z0-9-]*)*$/.test(v.schedflags)) {
      throw new ConfigError(
        file,
        lines.get(v)?.schedflags ?? v.line,
        `invalid sched-flags "${v.schedflags}": a comma-separated list of flag names (e.g. sh-fallback,sh-port)`,
      );
    }
    const negotiates = v.checktype === 'negotiate' || v.checktype === 'combined';
    if (!negotiates) continue;
    const at = lines.get(v) ?? {};
    if (USES_RECEIVE.has(v.service)) {
      compiles(file, v.receive, at.receive ?? v.line);
      for (const r of v.reals) if (r.receive !== null) compiles(file, r.receive, r.line);
    }
    if (v.service === 'oracle') {
      // No Oracle server can be run in this project's tests, so there is no tested check.
      throw new ConfigError(
        file,
        at.service ?? v.line,
        'service=oracle negotiate checks are not supported by this ldirectord: use checktype=connect, or checktype=external with a checkcommand that runs your query',
      );
    }
    if (SQL.has(v.service)) {
      if (!v.login)
        throw new ConfigError(
          file,
          at.service ?? v.line,
          `a ${v.service} check needs login="..." (the original logged "Must specify a login and request string" and kept every real down)`,
        );
      if (!v.request.replace(/^\//, '')) {
        throw new ConfigError(
          file,
          at.service ?? v.line,
          `a ${v.service} check needs request="<query>" (the original logged "Must specify a login and request string" and kept every real down)`,
        );
      }
      for (const r of v.reals) {
        if (r.request !== null && !r.request.replace(/^\//, ''))
          throw new ConfigError(file, r.line, `a ${v.service} check needs a non-empty per-real request`);
      }
    }
  }
}

function compiles(file: string, receive: string, line: number): void {
  if (!receive) return;
  try {
    perlRegex(toByteString(receive));
  } catch (e) {
    if (!(e instanceof PerlRegexError)) throw e;
    throw new ConfigError(file, line, `invalid receive string "${receive}": ${e.message}`);
  }
}
