/**
 * `ldirectord --check [--json] CONFIG`: parse exactly as the daemon would at start and
 * report (reference/config-dump.md). Checks the file, not the machine: no log or monitor
 * file is opened, no ipvsadm is run.
 */
import { dumpConfig } from '../parser/dump';
import { loadConfig, locateConfig } from '../parser/load';
import { ConfigError, formatWarning } from '../parser/model';
import type { GlobalOptions } from './args';

export async function runCheck(config: string, opts: GlobalOptions): Promise<number> {
  const file = locateConfig(config);
  if (file === null) {
    const message = `Config file ${config} not found`;
    if (opts.json) process.stdout.write(JSON.stringify({ error: { line: 0, message } }) + '\n');
    process.stderr.write(message + '\n');
    return 1;
  }
  try {
    const cfg = await loadConfig(file);
    for (const w of cfg.warnings) process.stderr.write(formatWarning(file, w) + '\n');
    if (opts.json) process.stdout.write(JSON.stringify(dumpConfig(cfg), null, 2) + '\n');
    else {
      const reals = cfg.virtuals.reduce((n, v) => n + v.reals.length, 0);
      process.stdout.write(
        `${file}: configuration OK (${cfg.virtuals.length} virtual services, ${reals} real servers)\n`,
      );
    }
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (opts.json) process.stdout.write(JSON.stringify({ error: { line: e.line, message: e.detail } }) + '\n');
    process.stderr.write(e.message + '\n');
    return 2;
  }
}
