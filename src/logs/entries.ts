/**
 * Log entries: a prefixed line and the continuation lines after it (a message logged
 * with newlines in it, such as an ipvsadm error). The filters decide on the first line
 * and the whole entry follows; `-n N` counts entries. Pure.
 */
import { lineMatches, type LineFilter } from './filter';
import { parseLine, type LogLine } from './line';

/** Lines in file order (following a file): each line that is to be shown, parsed. */
export class ForwardSelector {
  private head: LogLine | null = null;
  private headShown = false;

  constructor(private readonly filter: LineFilter) {}

  next(raw: string): LogLine | null {
    const line = parseLine(raw, this.head);
    if (line.continuation) return this.headShown ? line : null;
    this.head = line.stamp === null ? null : line;
    this.headShown = lineMatches(this.filter, line);
    return this.headShown ? line : null;
  }
}

/** Lines newest first (reading a file backwards): the last `count` entries that pass. */
export class BackwardSelector {
  /** Lines without a prefix whose first line has not been seen yet, newest first. */
  private pending: string[] = [];
  /** The entries picked so far, newest first. */
  private picked: LogLine[][] = [];
  private stopped = false;

  /**
   * @param stopBefore the scan may end at a first line stamped before this (ms since the
   *   epoch): with --since, a little before the requested time, as stamps are local time.
   */
  constructor(
    private readonly filter: LineFilter,
    private readonly count: number,
    private readonly stopBefore: number | null = null,
  ) {}

  /** Feed the line before the last one fed. True: enough; stop reading. */
  prev(raw: string): boolean {
    if (this.done()) return true;
    const line = parseLine(raw);
    if (line.stamp === null) {
      this.pending.push(raw);
      return false;
    }
    const rest = this.pending.reverse().map((r) => parseLine(r, line));
    this.pending = [];
    if (this.stopBefore !== null && line.time !== null && line.time < this.stopBefore) {
      this.stopped = true;
      return true;
    }
    if (lineMatches(this.filter, line)) this.picked.push([line, ...rest]);
    return this.done();
  }

  /** The scan reached the start of the file: lines before any prefixed one stand alone. */
  finish(): void {
    if (this.stopped) return;
    for (const raw of this.pending) {
      if (this.done()) break;
      const line = parseLine(raw);
      if (lineMatches(this.filter, line)) this.picked.push([line]);
    }
    this.pending = [];
  }

  /** The lines to show, oldest first. */
  lines(): LogLine[] {
    return this.picked.slice(0, this.count).reverse().flat();
  }

  private done(): boolean {
    return this.stopped || this.picked.length >= this.count;
  }
}
