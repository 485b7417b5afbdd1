import { executorDurationMs, parseDurationMs, type ExecutorConfig } from '../../../scenarios/scenarios';
import type { Clock } from '../util/clock.util';
import { runArrivalRate } from './arrival-rate.util';
import { rampingTarget, runClosedModel } from './closed-model.util';

export interface LoadExecution {
  executor: ExecutorConfig;
  /** Stop after this many iterations (a request budget); closed-model executors only. */
  maxIterations?: number;
  iteration: (vu: number) => Promise<void>;
  onError: (error: unknown) => void;
  onDrop?: () => void;
  signal?: AbortSignal;
  clock?: Clock;
}

export interface ExecutionSummary {
  /** Iterations started. */
  iterations: number;
  /** Open model: iterations not started because every VU was busy. */
  dropped: number;
  peakVUs: number;
  interrupted: number;
  /** Open model: the generator's own scheduling lag; 0 for closed models. */
  maxLagMs: number;
  budgetExhausted: boolean;
  elapsedMs: number;
}

/** Runs a k6 executor configuration with the open- or closed-model loop it stands for. */
export async function executeLoad(execution: LoadExecution): Promise<ExecutionSummary> {
  const { executor } = execution;
  const common = { onError: execution.onError, signal: execution.signal, clock: execution.clock };
  switch (executor.executor) {
    case 'constant-arrival-rate': {
      if (execution.maxIterations !== undefined) throw new Error('a request budget needs a closed-model executor');
      const result = await runArrivalRate({
        ...common,
        ratePerSecond: (executor.rate * 1000) / parseDurationMs(executor.timeUnit),
        durationMs: parseDurationMs(executor.duration),
        maxVUs: executor.maxVUs,
        gracefulStopMs: parseDurationMs(executor.gracefulStop),
        onDrop: execution.onDrop,
        iteration: () => execution.iteration(0),
      });
      return { ...result, iterations: result.started, budgetExhausted: false };
    }
    case 'constant-vus':
    case 'ramping-vus': {
      const targetVUs =
        executor.executor === 'constant-vus'
          ? () => executor.vus
          : (elapsed: number) => rampingTarget(executor.startVUs, executor.stages, elapsed);
      const result = await runClosedModel({
        ...common,
        targetVUs,
        durationMs: executorDurationMs(executor),
        gracefulStopMs: parseDurationMs(executor.gracefulStop),
        maxIterations: execution.maxIterations,
        iteration: execution.iteration,
      });
      return { ...result, dropped: 0, maxLagMs: 0 };
    }
  }
}
