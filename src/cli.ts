#!/usr/bin/env -S node --max-semi-space-size=8
/**
 * The `ldirectord` command: argv → action → exit code (reference/cli.md).
 * Exit codes are the original's: 0 ok, 1 init error, 2 config error, 3 stopped, 255 usage.
 *
 * Each action's code is loaded only when that action runs, so a `status` (which the OCF
 * agent runs every 20 s) does not pay for loading the checks, winston and chokidar.
 */
import { parseArgs, type Action } from './cli/args';
import { VERSION_TEXT, USAGE } from './cli/text';

export async function main(argv: string[]): Promise<number> {
  const action: Action = parseArgs(argv);
  switch (action.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case 'version':
      process.stdout.write(VERSION_TEXT);
      return 0;
    case 'usage':
      if (action.message) process.stderr.write(action.message + '\n');
      process.stderr.write(USAGE);
      return 255;
    case 'check':
      return (await import('./cli/check.js')).runCheck(action.config, action.opts);
    case 'dry-run':
      return (await import('./cli/dry-run.js')).runDryRun(action.config, action.opts);
    case 'show':
      return (await import('./cli/show.js')).runShow(action.config, action.cfgname, action.opts);
    case 'logs':
      return (await import('./cli/logs.js')).runLogs(action.config, action.cfgname, action.logs);
    case 'drain':
      return (await import('./cli/drain.js')).runDrain(action.cfgname, action.undo, action.drain, action.opts);
    case 'daemon':
      return (await import('./cli/control.js')).runControl({
        command: action.command,
        config: action.config,
        cfgname: action.cfgname,
        opts: action.opts,
        argv,
      });
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // A daemon that has stopped must exit even if some handle lingers.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (e: unknown) => {
      process.stderr.write(`ldirectord: ${(e as Error).stack ?? e}\n`);
      process.exitCode = 1;
    },
  );
}
