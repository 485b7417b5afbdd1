import { KeyflowClient, KeyflowProblem } from '@keyflow/client';
import { retryAfterSeconds, type ProblemLike } from './lib/format.util';

/**
 * The console's one client: the page's own origin (whichever gateway it was loaded from), the browser's session
 * cookie (sent by the browser itself, same origin). Reads are retried once on a 502/503/504; writes carry an
 * Idempotency-Key, so their retry is safe.
 */
export const api = new KeyflowClient({ baseUrl: window.location.origin, retry: { attempts: 2 } });

/** What went wrong, in the terms the pages show. */
export function problemOf(err: unknown): ProblemLike {
  if (err instanceof KeyflowProblem) {
    return {
      status: err.status,
      title: err.title,
      detail: err.detail,
      retryAfterSeconds: retryAfterSeconds(err.response?.headers.get('retry-after') ?? null, Date.now()),
    };
  }
  return { status: 0, title: 'Network error', detail: err instanceof Error ? err.message : String(err) };
}

export function isUnauthenticated(err: unknown): boolean {
  return err instanceof KeyflowProblem && err.status === 401;
}
