/** When and how often a write is sent again (the same request, with the same Idempotency-Key). */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 4). */
  attempts: number;
  /** The first backoff; it doubles per attempt, with jitter (default 200 ms). */
  baseDelayMs: number;
  /** No single wait is longer, `Retry-After` included (default 5 s). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };

/**
 * An answer worth sending the same request again for: 503 (keyflow answers it when the broker did not confirm in
 * time; the operation is then unknown, and the Idempotency-Key makes the retry safe), 502 and 504 (a gateway that
 * lost its upstream), 429 (with `Retry-After`).
 */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504;
}

/** How long to wait before attempt `attempt + 1`: `Retry-After` when the answer has one, else exponential backoff. */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy,
  retryAfter?: string | null,
  random = Math.random,
): number {
  const seconds = retryAfter == null ? Number.NaN : Number(retryAfter);
  const base =
    Number.isFinite(seconds) && seconds >= 0
      ? seconds * 1000
      : policy.baseDelayMs * 2 ** (attempt - 1) * (0.5 + random());
  return Math.min(policy.maxDelayMs, Math.round(base));
}

const sleep = (ms: number, signal?: AbortSignal | null): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    });
  });

/**
 * A `fetch` that sends a request again after a connection error, a timeout or a retryable status — but only a
 * request that is safe to repeat: a GET or HEAD, or a write that carries an `Idempotency-Key` (the API applies a
 * key's write once, however often it arrives). Anything else gets its first answer or error.
 */
export function retryingFetch(
  base: typeof fetch,
  policy: RetryPolicy = DEFAULT_RETRY,
  timeoutMs = 30_000,
): (request: Request) => Promise<Response> {
  return async (request: Request): Promise<Response> => {
    const repeatable = request.method === 'GET' || request.method === 'HEAD' || request.headers.has('idempotency-key');
    const attempts = repeatable ? Math.max(1, policy.attempts) : 1;
    // `Prefer: wait=N` asks the API to hold the answer up to N seconds: the attempt may take that much longer.
    const waitS = Number(/wait=(\d+)/.exec(request.headers.get('prefer') ?? '')?.[1] ?? 0);
    // A request sent again needs its body again: read once, it is sent from memory by every attempt (cloning the
    // request instead tees its body stream, which costs about 3x the CPU per write).
    const body = repeatable && attempts > 1 && request.body !== null ? await request.arrayBuffer() : undefined;
    for (let attempt = 1; ; attempt++) {
      const signal = AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs + waitS * 1000)]);
      try {
        const sent =
          body === undefined
            ? new Request(request, { signal })
            : new Request(request.url, {
                method: request.method,
                headers: request.headers,
                credentials: request.credentials,
                body,
                signal,
              });
        const response = await base(sent);
        if (attempt >= attempts || !isRetryableStatus(response.status)) return response;
        await response.body?.cancel();
        await sleep(retryDelayMs(attempt, policy, response.headers.get('retry-after')), request.signal);
      } catch (error: unknown) {
        // The caller's own abort ends it; a timeout or a connection error is retried while attempts are left.
        if (request.signal.aborted || attempt >= attempts) throw error;
        await sleep(retryDelayMs(attempt, policy), request.signal);
      }
    }
  };
}
