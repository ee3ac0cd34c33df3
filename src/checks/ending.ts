/**
 * How a socket-level check ends: once, whatever comes first (an answer, an error, the
 * deadline's abort). `endOnce` registers `onAbort` on the signal and returns `end()`,
 * which is true only the first time; it then detaches from the signal and runs `release`
 * (close the socket, clear a timer), so the caller settles exactly once.
 */
export function endOnce(signal: AbortSignal, release: () => void, onAbort: () => void): () => boolean {
  let ended = false;
  const aborted = () => onAbort();
  const end = () => {
    if (ended) return false;
    ended = true;
    signal.removeEventListener('abort', aborted);
    release();
    return true;
  };
  // Already aborted: end on the next microtask, once the caller has wired its socket.
  if (signal.aborted) queueMicrotask(aborted);
  else signal.addEventListener('abort', aborted, { once: true });
  return end;
}

/** The reason an aborted signal carries (the runner puts `timed out after N s` there). */
export function abortText(signal: AbortSignal): string {
  return (signal.reason as Error)?.message ?? 'aborted';
}
