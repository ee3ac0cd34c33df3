/** Waiting for a condition in tests: polled, bounded by time, and said in full when it times out. */

/**
 * Poll `fn` every `stepMs` until it returns something truthy (returned) or `timeoutMs` pass;
 * then throw with `what`, the last value or error, and `context()` (tables, logs).
 */
export async function waitUntil<T>(
  what: string,
  fn: () => T | false | null | undefined,
  timeoutMs: number,
  context: () => string,
  stepMs = 100,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what} (last: ${String(last)})\n${context()}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
