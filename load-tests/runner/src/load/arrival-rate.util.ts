import { systemClock, type Clock } from '../util/clock.util';

/**
 * The open model of k6's `constant-arrival-rate`: iteration i is due at i / rate seconds after the start, whether or
 * not earlier iterations finished. An iteration starts if fewer than `maxVUs` are in flight; otherwise it is dropped
 * and counted (k6's `dropped_iterations`), never queued — queueing would hide the overload as client-side latency.
 */
export interface ArrivalRateOptions {
  /** Iterations per second (k6 `rate` / `timeUnit`). */
  ratePerSecond: number;
  durationMs: number;
  maxVUs: number;
  /** How long in-flight iterations may run on after `durationMs` before the run stops waiting for them. */
  gracefulStopMs: number;
  /** One iteration; a rejection is passed to `onError` and does not stop the run. */
  iteration: () => Promise<void>;
  onError?: (error: unknown) => void;
  /** Called for each dropped iteration as it is dropped (for live progress). */
  onDrop?: () => void;
  signal?: AbortSignal;
  clock?: Clock;
}

export interface ArrivalRateResult {
  planned: number;
  started: number;
  dropped: number;
  /** Iterations still running when the graceful stop ran out. */
  interrupted: number;
  /** Most iterations in flight at once (the VUs k6 would have needed). */
  peakVUs: number;
  /** Largest delay between an iteration's due time and its start: the load generator's own lag. */
  maxLagMs: number;
  elapsedMs: number;
}

/** How many iterations are due `elapsedMs` after the start (the first is due at 0). */
export function iterationsDue(elapsedMs: number, ratePerSecond: number, durationMs: number): number {
  const planned = plannedIterations(ratePerSecond, durationMs);
  if (elapsedMs < 0) return 0;
  return Math.min(planned, Math.floor((elapsedMs * ratePerSecond) / 1000) + 1);
}

export function plannedIterations(ratePerSecond: number, durationMs: number): number {
  return Math.floor((ratePerSecond * durationMs) / 1000);
}

export async function runArrivalRate(options: ArrivalRateOptions): Promise<ArrivalRateResult> {
  const clock = options.clock ?? systemClock;
  const { ratePerSecond, durationMs, maxVUs } = options;
  if (!(ratePerSecond > 0)) throw new Error(`rate must be positive, got ${ratePerSecond}`);
  if (!(maxVUs >= 1)) throw new Error(`maxVUs must be at least 1, got ${maxVUs}`);

  const planned = plannedIterations(ratePerSecond, durationMs);
  const intervalMs = 1000 / ratePerSecond;
  const inFlight = new Set<Promise<void>>();
  let issued = 0;
  let started = 0;
  let dropped = 0;
  let peakVUs = 0;
  let maxLagMs = 0;
  const start = clock.now();

  while (issued < planned && !options.signal?.aborted) {
    const now = clock.now();
    const due = iterationsDue(now - start, ratePerSecond, durationMs);
    for (; issued < due; issued++) {
      if (inFlight.size >= maxVUs) {
        dropped++;
        options.onDrop?.();
        continue;
      }
      maxLagMs = Math.max(maxLagMs, now - (start + issued * intervalMs));
      started++;
      const running: Promise<void> = options
        .iteration()
        .catch((error: unknown) => options.onError?.(error))
        .finally(() => inFlight.delete(running));
      inFlight.add(running);
      peakVUs = Math.max(peakVUs, inFlight.size);
    }
    if (issued >= planned) break;
    await clock.sleep(start + issued * intervalMs - clock.now());
  }

  const interrupted = await drain(inFlight, options.gracefulStopMs, clock);
  return { planned, started, dropped, interrupted, peakVUs, maxLagMs, elapsedMs: clock.now() - start };
}

/** Waits for in-flight iterations, at most `graceMs`; returns how many were still running. */
export async function drain(inFlight: ReadonlySet<Promise<void>>, graceMs: number, clock: Clock): Promise<number> {
  if (inFlight.size === 0) return 0;
  let timedOut = false;
  await Promise.race([
    Promise.allSettled([...inFlight]),
    clock.sleep(graceMs).then(() => {
      timedOut = true;
    }),
  ]);
  return timedOut ? inFlight.size : 0;
}
