/**
 * Files anyone can write to are a way in: a world-writable config lets any local user
 * choose the commands the daemon runs as root, and a world-writable check command is such
 * a command. The daemon warns about them at start and on reload (it does not refuse: the
 * original did not look at all).
 */
import { statSync } from 'node:fs';
import type { Config } from '../parser/model';
import { splitCommand } from './exec';

export function worldWritableWarnings(configFile: string, cfg: Config): string[] {
  const out: string[] = [];
  const check = (path: string, what: string) => {
    try {
      const st = statSync(path);
      if (st.mode & 0o002)
        out.push(`${what} ${path} is world-writable: any local user can change what ldirectord runs as root`);
    } catch {
      // missing files are reported where they are used
    }
  };
  check(configFile, 'configuration file');
  const commands = new Set<string>();
  for (const v of cfg.virtuals) {
    if (v.checktype === 'external' || v.checktype === 'external-perl') commands.add(v.checkcommand);
    if (v.fallbackcommand) commands.add(splitCommand(v.fallbackcommand)[0] ?? '');
  }
  if (cfg.global.fallbackcommand) commands.add(splitCommand(cfg.global.fallbackcommand)[0] ?? '');
  if (cfg.global.callback) commands.add(cfg.global.callback);
  for (const c of commands) if (c.startsWith('/')) check(c, 'command');
  return out;
}
