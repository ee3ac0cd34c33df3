/**
 * What the layers that log need of a logger. The daemon creates the one logger
 * (daemon/logging.ts: winston, the original's destinations and formats) and passes it
 * down; tests pass their own.
 */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  debug(msg: string): void;
}
