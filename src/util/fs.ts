/** Small file-system questions the daemon asks before running what a config names. */
import { accessSync, constants, statSync } from 'node:fs';

/** A regular file this process may execute (callback=, sendmail). */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
