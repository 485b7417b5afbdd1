import { KeyflowProblem, toProblem } from './problem';
import { isRetryableStatus, retryDelayMs, type RetryPolicy } from './retry';
import { SseParser } from './sse';

/** One applied write under the watched prefix (`GET /v1/watch`). */
export interface WatchEvent {
  kind: 'put' | 'delete' | 'expire';
  /** The change stream's revision: resume after it with `fromRevision`. */
  revision: number;
  key: string;
  version: number;
  /** A put's value, exactly as stored. */
  value?: unknown;
  updatedAt: string;
}

export interface WatchOptions {
  /** Start after this revision (a previous event's `revision`); without it, at the present. */
  fromRevision?: number;
  /** Ends the watch (the iterator returns). */
  signal?: AbortSignal;
  /** Backoff between reconnections (attempts are not limited: a watch runs until it is stopped). */
  retry?: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>;
  /** Told about every reconnection, with its reason. */
  onReconnect?: (reason: string, afterRevision: number | undefined) => void;
  /** Told each time the stream is open (the API answered 200): from then on no applied write is missed. */
  onOpen?: () => void;
}

const KINDS = new Set(['put', 'delete', 'expire']);

/**
 * Follows `GET /v1/watch?prefix=…` for as long as the caller iterates: every event once, in order, across dropped
 * connections — it reconnects with `Last-Event-ID` set to the last revision it yielded, which the API resumes from
 * exactly. A 410 (the revision is older than the stream keeps) ends it with `KeyflowProblem`: list the prefix again
 * and watch from the present. Other errors (401, 400) end it too; a 5xx or a lost connection is retried.
 */
export async function* watchEvents(
  fetchFn: typeof fetch,
  url: string,
  headers: Record<string, string>,
  options: WatchOptions = {},
): AsyncGenerator<WatchEvent> {
  const policy = { attempts: Number.POSITIVE_INFINITY, baseDelayMs: 250, maxDelayMs: 5_000, ...options.retry };
  let last = options.fromRevision;
  let failures = 0;
  while (!options.signal?.aborted) {
    let reason: string;
    try {
      const response = await fetchFn(url, {
        headers: {
          ...headers,
          accept: 'text/event-stream',
          ...(last === undefined ? {} : { 'last-event-id': String(last) }),
        },
        signal: options.signal,
      });
      if (!response.ok) {
        const body: unknown = await response.json().catch(() => undefined);
        const problem = toProblem(response.status, response.statusText, body);
        if (!isRetryableStatus(response.status)) throw new KeyflowProblem(problem, response);
        reason = `${response.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`;
      } else if (response.body === null) {
        reason = 'no stream in the answer';
      } else {
        failures = 0;
        options.onOpen?.();
        const parser = new SseParser();
        const decoder = new TextDecoder();
        for await (const chunk of chunks(response.body)) {
          for (const event of parser.push(decoder.decode(chunk, { stream: true }))) {
            if (!KINDS.has(event.event)) continue;
            const data = JSON.parse(event.data) as Omit<WatchEvent, 'kind'>;
            last = data.revision;
            yield { kind: event.event as WatchEvent['kind'], ...data };
          }
        }
        reason = 'the stream ended';
      }
    } catch (error: unknown) {
      if (error instanceof KeyflowProblem || options.signal?.aborted) {
        if (options.signal?.aborted) return;
        throw error;
      }
      reason = error instanceof Error ? error.message : String(error);
    }
    failures++;
    options.onReconnect?.(reason, last);
    await new Promise((resolve) => setTimeout(resolve, retryDelayMs(failures, policy)));
  }
}

/** A body's chunks through its reader, which every browser has (not all can iterate a stream with `for await`). */
async function* chunks(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    // Stopping early (the caller broke out, or aborted) must release the connection.
    await reader.cancel().catch(() => undefined);
  }
}
