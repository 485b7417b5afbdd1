import { parseDurationMs, type RampingStage } from '../../../scenarios/scenarios';
import { systemClock, type Clock } from '../util/clock.util';
import { drain } from './arrival-rate.util';

/**
 * The closed model of k6's `constant-vus` / `ramping-vus`: each VU starts its next iteration as soon as its previous
 * one ended, so the load adapts to the server's speed. The VU count follows `targetVUs(elapsedMs)`; when it goes
 * down, surplus VUs finish their current iteration and stop (k6's graceful ramp-down).
 */
export interface ClosedModelOptions {
  /** How many VUs should run `elapsedMs` after the start. */
  targetVUs: (elapsedMs: number) => number;
  durationMs: number;
  gracefulStopMs: number;
  /** Stop after this many iterations in total, even before `durationMs` (a request budget). */
  maxIterations?: number;
  /** One iteration of VU `vu` (0-based); a rejection goes to `onError` and the VU carries on. */
  iteration: (vu: number) => Promise<void>;
  onError?: (error: unknown) => void;
  signal?: AbortSignal;
  clock?: Clock;
  /** How often the VU count is adjusted. */
  tickMs?: number;
}

export interface ClosedModelResult {
  iterations: number;
  peakVUs: number;
  interrupted: number;
  /** True when the run ended because `maxIterations` were done. */
  budgetExhausted: boolean;
  elapsedMs: number;
}

/** k6 `ramping-vus`: linear interpolation between stage targets, starting from `startVUs`; rounds down. */
export function rampingTarget(startVUs: number, stages: RampingStage[], elapsedMs: number): number {
  let from = startVUs;
  let stageStart = 0;
  for (const stage of stages) {
    const length = parseDurationMs(stage.duration);
    if (elapsedMs < stageStart + length) {
      const progress = length === 0 ? 1 : (elapsedMs - stageStart) / length;
      return Math.floor(from + (stage.target - from) * progress);
    }
    from = stage.target;
    stageStart += length;
  }
  return from;
}

export async function runClosedModel(options: ClosedModelOptions): Promise<ClosedModelResult> {
  const clock = options.clock ?? systemClock;
  const tickMs = options.tickMs ?? 50;
  const start = clock.now();
  const running = new Map<number, Promise<void>>();
  let target = 0;
  let stopped = false;
  let claimed = 0;
  let peakVUs = 0;

  const budgetLeft = (): boolean => options.maxIterations === undefined || claimed < options.maxIterations;

  const runVu = async (vu: number): Promise<void> => {
    while (!stopped && vu < target && budgetLeft()) {
      claimed++;
      try {
        await options.iteration(vu);
      } catch (error: unknown) {
        options.onError?.(error);
      }
    }
  };

  for (;;) {
    const elapsed = clock.now() - start;
    if (elapsed >= options.durationMs || options.signal?.aborted || !budgetLeft()) break;
    target = Math.max(0, options.targetVUs(elapsed));
    for (let vu = 0; vu < target; vu++) {
      if (running.has(vu)) continue;
      const promise: Promise<void> = runVu(vu).finally(() => running.delete(vu));
      running.set(vu, promise);
    }
    peakVUs = Math.max(peakVUs, running.size);
    // With a budget, wake up as soon as the VUs have used it, not at the next tick.
    await Promise.race([clock.sleep(Math.min(tickMs, options.durationMs - elapsed)), allDone(running)]);
    if (running.size === 0 && !budgetLeft()) break;
  }

  stopped = true;
  const interrupted = await drain(new Set(running.values()), options.gracefulStopMs, clock);
  return {
    iterations: claimed,
    peakVUs,
    interrupted,
    budgetExhausted: !budgetLeft(),
    elapsedMs: clock.now() - start,
  };
}

function allDone(running: Map<number, Promise<void>>): Promise<void> {
  // Never resolves while nothing runs: an empty race partner must not end the tick early.
  return running.size === 0
    ? new Promise<void>(() => undefined)
    : Promise.allSettled(running.values()).then(() => undefined);
}
