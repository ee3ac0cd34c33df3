/**
 * Reason texts shared by the checks and the runner. A leaf module (no imports), so a check
 * can use it without pulling in the registry, which imports every check.
 */
export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

/** `timed out after 2 s`: the reason of every check that hits its deadline. */
export function timeoutReason(ms: number): string {
  return `timed out after ${formatSeconds(ms)}`;
}
