import { requestFor, valueOf, type ApiStyle } from '../../../scenarios/scenarios';
import type { KvHttpClient } from '../http/kv-http.client';
import { systemClock, type Clock } from '../util/clock.util';

export interface WriteAndAwaitOptions {
  api: ApiStyle;
  concurrency: number;
  timeoutMs: number;
  clock?: Clock;
  /** Updated live, for progress lines during a long setup. */
  progress?: WriteProgress;
}

export interface WriteProgress {
  written: number;
  visible: number;
}

export interface WriteAndAwaitResult {
  /** Milliseconds from each key's accepted write until it read back with its value. */
  visibleAfterMs: number[];
  /** Keys still not readable with their value when the time ran out. */
  pending: string[];
  /** Writes the API did not accept, with the reason. */
  rejected: Array<{ key: string; failure: string }>;
}

/** Runs `task` over `items` with at most `concurrency` at a time. */
export async function forEachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}

/**
 * Writes every key and polls, in rounds with backoff, until each reads back with its value or `timeoutMs` passes.
 * Used for setup (the key space must be readable before the load starts) and for the backlog drain check.
 */
export async function writeAndAwait(
  client: KvHttpClient,
  keys: readonly string[],
  valueFor: (key: string) => string,
  options: WriteAndAwaitOptions,
): Promise<WriteAndAwaitResult> {
  const clock = options.clock ?? systemClock;
  const acceptedAt = new Map<string, number>();
  const rejected: Array<{ key: string; failure: string }> = [];
  await forEachConcurrently(keys, options.concurrency, async (key) => {
    const outcome = await client.send(requestFor(options.api, 'put', key, valueFor(key), false));
    if (options.progress) options.progress.written++;
    if (outcome.ok) acceptedAt.set(key, clock.now());
    else rejected.push({ key, failure: outcome.failure ?? 'unknown' });
  });

  const visibleAfterMs: number[] = [];
  const deadline = clock.now() + options.timeoutMs;
  let pending = keys.filter((k) => acceptedAt.has(k));
  let pause = 5;
  while (pending.length > 0 && clock.now() <= deadline) {
    const stillPending: string[] = [];
    await forEachConcurrently(pending, options.concurrency, async (key) => {
      const outcome = await client.send(requestFor(options.api, 'get', key, '', true), true);
      if (outcome.status === 200 && outcome.body !== undefined && valueOf(outcome.body) === valueFor(key)) {
        visibleAfterMs.push(clock.now() - (acceptedAt.get(key) ?? clock.now()));
        if (options.progress) options.progress.visible++;
      } else {
        stillPending.push(key);
      }
    });
    pending = stillPending;
    if (pending.length > 0) {
      await clock.sleep(pause);
      pause = Math.min(200, pause * 2);
    }
  }
  return { visibleAfterMs, pending, rejected };
}
