/**
 * Wraps `work` so that calls within `ttlMs` of the one that started it share its promise (its result or its failure):
 * however many callers ask, `work` runs at most once per `ttlMs`, and callers that arrive while it runs wait for it.
 */
export function sharedFor<T>(ttlMs: number, work: () => Promise<T>, now: () => number = Date.now): () => Promise<T> {
  let last: { promise: Promise<T>; startedAt: number } | undefined;
  return () => {
    const at = now();
    if (last && at - last.startedAt < ttlMs) return last.promise;
    const promise = work();
    last = { promise, startedAt: at };
    return promise;
  };
}
