import { requestFor, valueOf, type ApiStyle } from '../../../scenarios/scenarios';
import type { KvHttpClient } from '../http/kv-http.client';
import type { LatencyHistogram } from '../metrics/histogram.util';
import { systemClock, type Clock } from '../util/clock.util';

/** Backoff of visibility polls: first retry after 5 ms, ×1.5 each time, never more often than every 50 ms after. */
export const VISIBILITY_POLL = { firstMs: 5, factor: 1.5, maxMs: 50 } as const;

export interface VisibilityProbeOptions {
  api: ApiStyle;
  timeoutMs: number;
  /** Probes in flight at most; a sampled write beyond that is skipped (and counted), so probes never pile up. */
  maxConcurrent: number;
  clock?: Clock;
}

export interface VisibilitySink {
  visibility: LatencyHistogram;
  visibilityTimeouts: number;
  visibilitySkipped: number;
}

/**
 * Measures end-to-end write visibility: from the 202 of a write until a GET through the same gateway returns the
 * written value. Polls back off (see VISIBILITY_POLL) and run on their own small connection pool, so they neither
 * hammer the API nor take connections from the load. Resolution is the poll interval: within 5–50 ms.
 */
export class WriteVisibilityProbe {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly clock: Clock;

  constructor(
    private readonly client: KvHttpClient,
    private readonly sink: VisibilitySink,
    private readonly options: VisibilityProbeOptions,
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /** Starts probing `key` for `value`, accepted (202 received) at `acceptedAt` (clock ms). Returns at once. */
  track(key: string, value: string, acceptedAt: number): void {
    if (this.inFlight.size >= this.options.maxConcurrent) {
      this.sink.visibilitySkipped++;
      return;
    }
    const probe: Promise<void> = this.poll(key, value, acceptedAt).finally(() => this.inFlight.delete(probe));
    this.inFlight.add(probe);
  }

  /** Waits for every running probe (each ends by its own timeout). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private async poll(key: string, value: string, acceptedAt: number): Promise<void> {
    const spec = requestFor(this.options.api, 'get', key, '', true);
    const deadline = acceptedAt + this.options.timeoutMs;
    let pause: number = VISIBILITY_POLL.firstMs;
    for (;;) {
      const outcome = await this.client.send(spec, true);
      if (outcome.status === 200 && outcome.body !== undefined && valueOf(outcome.body) === value) {
        this.sink.visibility.recordMs(this.clock.now() - acceptedAt);
        return;
      }
      if (this.clock.now() + pause > deadline) {
        this.sink.visibilityTimeouts++;
        return;
      }
      await this.clock.sleep(pause);
      pause = Math.min(VISIBILITY_POLL.maxMs, pause * VISIBILITY_POLL.factor);
    }
  }
}
