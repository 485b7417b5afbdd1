import { randomInt } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import {
  dataKey,
  drainKey,
  executorDurationMs,
  executorMaxVus,
  getMayMiss,
  makeValue,
  needsPrewrite,
  OPERATIONS,
  pickOperation,
  requestFor,
  visibilityKey,
  type ExecutorConfig,
  type ScenarioDefinition,
} from '../../../scenarios/scenarios';
import { KvHttpClient, reasonOf } from '../http/kv-http.client';
import type { LatencySummary } from '../metrics/histogram.util';
import { CpuSampler, describeCpu, type CpuReport, type TierProcess } from '../metrics/cpu-sampler.service';
import { RssSampler, type RssReport, type SampledProcess } from '../metrics/rss-sampler.service';
import { MemorySampler, memoryThreshold, type MemoryProbe, type MemoryReport } from '../metrics/memory-sampler.service';
import {
  allPassed,
  compare,
  evaluateThresholds,
  parseMetricSelector,
  statOf,
  type ThresholdResult,
} from '../metrics/threshold.util';
import { systemClock, type Clock } from '../util/clock.util';
import { writeAndAwait, type WriteProgress } from './key-writer.util';
import { executeLoad } from './load-executor.util';
import { ProgressReporter } from './progress-reporter.util';
import { ScenarioMetrics, type OperationResult } from './scenario-metrics.service';
import { WriteVisibilityProbe } from './write-visibility.service';

export interface RunTarget {
  baseUrl: string;
  token?: string | undefined;
}

export interface ScenarioRunOptions {
  target: RunTarget;
  /** The name in logs, key prefixes and the result, for a variant of a scenario (default: the scenario's name). */
  label?: string;
  /** Processes whose RSS is sampled during the load (the API instances). */
  rssProcesses: SampledProcess[];
  /**
   * The memory figures to follow for scenarios that sample memory (`memory-soak`): Redis masters and the API and
   * worker processes. A factory, as probes open connections; absent: no memory report.
   */
  memoryProbes?: () => MemoryProbe[];
  /** Stack processes whose CPU time is measured per tier during the load; empty: no CPU profile. */
  cpuProcesses?: TierProcess[];
  /** Baseline GET req/s, for the scenario's `baselineTargets`; absent when no baseline was measured. */
  baselineGetRps?: number | undefined;
  progressIntervalMs: number;
  log: (line: string) => void;
  signal?: AbortSignal;
  clock?: Clock;
  /** Setup may take this long to write and read back the key space. */
  setupTimeoutMs?: number;
}

export interface ScenarioResult {
  name: string;
  description: string;
  targets: string[];
  api: string;
  executor: ExecutorConfig;
  status: 'completed' | 'aborted';
  startedAt: string;
  /** 1-minute load average of the machine when the load started and ended: a busy machine skews every figure. */
  hostLoad: { start: number; end: number };
  setup: { keys: number; durationMs: number };
  load: {
    durationS: number;
    iterations: number;
    dropped: number;
    peakVUs: number;
    interrupted: number;
    maxSchedulerLagMs: number;
    runnerErrors: number;
  };
  /** One entry per operation of the mix, then `all`. */
  operations: OperationResult[];
  visibility: {
    sampleRate: number;
    samples: number;
    timeouts: number;
    skipped: number;
    latency: LatencySummary | null;
  };
  backlogDrain: { markers: number; pending: number; latency: LatencySummary } | null;
  budget: { requests: number; elapsedMs: number; rps: number } | null;
  rss: RssReport | null;
  /** Redis and process memory over the run, for scenarios that sample it. */
  memory?: MemoryReport | null;
  /** Where the CPU went during the load, per tier of the stack. */
  cpu: CpuReport | null;
  thresholds: ThresholdResult[];
  passed: boolean;
}

/** Setup could not prepare the key space: the target is down, rejects writes, or never shows them. */
export class ScenarioSetupError extends Error {
  constructor(
    readonly scenario: string,
    reason: string,
  ) {
    super(`${scenario}: setup failed: ${reason}`);
    this.name = ScenarioSetupError.name;
  }
}

const SETUP_CONCURRENCY = 64;
const PROBE_CONNECTIONS = 8;
const MAX_CONCURRENT_PROBES = 64;

/**
 * Runs one scenario definition against a target with the same semantics as its k6 script: setup writes the key
 * space and waits until it is readable, the executor drives the operation mix, sampled PUTs are probed for
 * visibility, a backlog drain check follows the load, and the scenario's thresholds are evaluated.
 */
export class ScenarioRunner {
  async run(scenario: ScenarioDefinition, options: ScenarioRunOptions): Promise<ScenarioResult> {
    const clock = options.clock ?? systemClock;
    const name = options.label ?? scenario.name;
    const startedAt = new Date().toISOString();
    const maxVus = executorMaxVus(scenario.executor);
    const client = new KvHttpClient(options.target.baseUrl, { connections: maxVus, token: options.target.token });
    const probeClient = new KvHttpClient(options.target.baseUrl, {
      connections: PROBE_CONNECTIONS,
      token: options.target.token,
    });
    const prefix = `lt-${name}-${Date.now().toString(36)}`;
    try {
      const setup = await this.setup(scenario, name, client, prefix, options, clock);
      const metrics = new ScenarioMetrics();
      const probe = new WriteVisibilityProbe(probeClient, metrics, {
        api: scenario.api,
        timeoutMs: scenario.writeVisibility.timeoutMs,
        maxConcurrent: MAX_CONCURRENT_PROBES,
        clock,
      });
      const rss = new RssSampler(options.rssProcesses);
      await rss.start();
      const memory =
        scenario.memory && options.memoryProbes
          ? new MemorySampler(options.memoryProbes(), {
              intervalMs: scenario.memory.sampleIntervalMs,
              maxGrowthRatio: scenario.memory.maxGrowthRatio,
            })
          : undefined;
      await memory?.start();
      const cpuProcesses = options.cpuProcesses ?? [];
      const cpu = new CpuSampler(cpuProcesses, availableParallelism());
      if (cpuProcesses.length > 0) await cpu.start();
      const progress = new ProgressReporter(name, executorDurationMs(scenario.executor), metrics, options.log);
      const mayMiss = getMayMiss(scenario);
      const budget = scenario.requestBudget;
      let seq = 0;
      const loadStart = clock.now();
      const hostLoadStart = loadavg()[0] ?? 0;

      const iteration = async (): Promise<void> => {
        const op = pickOperation(scenario.mix, Math.random());
        const n = seq++;
        const sampled = op === 'put' && Math.random() < scenario.writeVisibility.sampleRate;
        const key = sampled ? visibilityKey(prefix, 'node', n) : dataKey(prefix, randomInt(scenario.keySpace));
        const value = makeValue(`node:${n}:`, scenario.valueSize);
        const outcome = await client.send(requestFor(scenario.api, op, key, value, mayMiss));
        metrics.iterations++;
        metrics.record(op, outcome.durationMs, outcome.failure);
        if (budget !== undefined) metrics.budgetElapsed.recordMs(clock.now() - loadStart);
        if (sampled && outcome.ok) probe.track(key, value, clock.now());
      };

      options.log(`[${name}] load: ${describeExecutor(scenario.executor)}`);
      progress.start(options.progressIntervalMs);
      const summary = await executeLoad({
        executor: scenario.executor,
        maxIterations: budget,
        iteration,
        // Request failures are recorded by the iteration itself; anything reaching here is a runner bug.
        onError: (error) => {
          metrics.runnerErrors++;
          if (metrics.runnerErrors <= 3) options.log(`[${name}] runner error: ${reasonOf(error)}`);
        },
        onDrop: () => metrics.dropped++,
        signal: options.signal,
        clock,
      }).finally(() => progress.stop());
      const cpuReport = await cpu.stop();
      if (cpuReport) options.log(`[${name}] ${describeCpu(cpuReport)}`);
      metrics.loadDurationS = summary.elapsedMs / 1000;
      metrics.dropped = summary.dropped;

      await probe.settle();
      const backlogDrain = await this.drainCheck(scenario, probeClient, prefix, metrics, clock);
      const rssReport = await rss.stop();
      const memoryReport = (await memory?.stop()) ?? null;

      const thresholds = [
        ...evaluateThresholds(scenario.thresholds, metrics),
        ...evaluateBaselineTargets(scenario, metrics, options.baselineGetRps),
        ...(memoryReport ? [memoryThreshold(memoryReport)] : []),
      ];
      const operations = [...OPERATIONS.filter((op) => scenario.mix[op] > 0), 'all' as const].map((op) =>
        metrics.operationResult(op),
      );
      const visibilityLatency = metrics.visibility.count > 0 ? metrics.visibility.summary() : null;
      const result: ScenarioResult = {
        name,
        description: scenario.description,
        targets: scenario.targets,
        api: scenario.api,
        executor: scenario.executor,
        status: options.signal?.aborted ? 'aborted' : 'completed',
        startedAt,
        hostLoad: { start: hostLoadStart, end: loadavg()[0] ?? 0 },
        setup,
        load: {
          durationS: metrics.loadDurationS,
          iterations: summary.iterations,
          dropped: summary.dropped,
          peakVUs: summary.peakVUs,
          interrupted: summary.interrupted,
          maxSchedulerLagMs: summary.maxLagMs,
          runnerErrors: metrics.runnerErrors,
        },
        operations,
        visibility: {
          sampleRate: scenario.writeVisibility.sampleRate,
          samples: metrics.visibility.count,
          timeouts: metrics.visibilityTimeouts,
          skipped: metrics.visibilitySkipped,
          latency: visibilityLatency,
        },
        backlogDrain,
        budget:
          budget === undefined
            ? null
            : {
                requests: metrics.requests,
                elapsedMs: metrics.budgetElapsed.maxMs,
                rps: metrics.budgetElapsed.maxMs > 0 ? metrics.requests / (metrics.budgetElapsed.maxMs / 1000) : 0,
              },
        rss: options.rssProcesses.length > 0 ? rssReport : null,
        memory: memoryReport,
        cpu: cpuReport,
        thresholds,
        passed: allPassed(thresholds),
      };
      options.log(
        `[${name}] done: ${metrics.requests} requests in ${metrics.loadDurationS.toFixed(1)} s, ` +
          `${metrics.failures} errors, thresholds ${result.passed ? 'passed' : 'FAILED'}`,
      );
      return result;
    } finally {
      await Promise.allSettled([client.close(), probeClient.close()]);
    }
  }

  private async setup(
    scenario: ScenarioDefinition,
    name: string,
    client: KvHttpClient,
    prefix: string,
    options: ScenarioRunOptions,
    clock: Clock,
  ): Promise<{ keys: number; durationMs: number }> {
    const started = clock.now();
    if (!needsPrewrite(scenario)) return { keys: 0, durationMs: 0 };
    options.log(`[${name}] setup: writing ${scenario.keySpace} keys and waiting until they are readable`);
    const keys = Array.from({ length: scenario.keySpace }, (_, i) => dataKey(prefix, i));
    const timeoutMs = options.setupTimeoutMs ?? 300_000;
    const progress: WriteProgress = { written: 0, visible: 0 };
    const timer =
      options.progressIntervalMs > 0
        ? setInterval(
            () =>
              options.log(`[${name}] setup: ${progress.written}/${keys.length} written, ${progress.visible} readable`),
            options.progressIntervalMs,
          )
        : undefined;
    timer?.unref();
    const { pending, rejected } = await writeAndAwait(
      client,
      keys,
      (key) => makeValue(`setup:${key}:`, scenario.valueSize),
      { api: scenario.api, concurrency: SETUP_CONCURRENCY, timeoutMs, clock, progress },
    ).finally(() => clearInterval(timer));
    if (rejected.length > 0) {
      const reasons = countBy(rejected.map((r) => r.failure));
      throw new ScenarioSetupError(name, `${rejected.length} of ${keys.length} writes rejected (${reasons})`);
    }
    if (pending.length > 0) {
      throw new ScenarioSetupError(
        name,
        `${pending.length} of ${keys.length} keys still not readable after ${timeoutMs} ms`,
      );
    }
    const durationMs = clock.now() - started;
    options.log(`[${name}] setup: ${keys.length} keys readable after ${(durationMs / 1000).toFixed(1)} s`);
    return { keys: keys.length, durationMs };
  }

  /** After the load: marker writes must become visible quickly; a grown backlog delays them. */
  private async drainCheck(
    scenario: ScenarioDefinition,
    client: KvHttpClient,
    prefix: string,
    metrics: ScenarioMetrics,
    clock: Clock,
  ): Promise<ScenarioResult['backlogDrain']> {
    const drain = scenario.backlogDrain;
    if (drain === undefined) return null;
    const stamp = Date.now().toString(36);
    const keys = Array.from({ length: drain.markers }, (_, i) => drainKey(prefix, i));
    const { visibleAfterMs, pending, rejected } = await writeAndAwait(
      client,
      keys,
      (key) => makeValue(`drain:${stamp}:${key}:`, scenario.valueSize),
      { api: scenario.api, concurrency: drain.markers, timeoutMs: drain.timeoutMs, clock },
    );
    for (const ms of visibleAfterMs) metrics.backlogDrain.recordMs(ms);
    // A marker that never showed up counts as the whole timeout, so the threshold fails rather than passing empty.
    for (let i = 0; i < pending.length + rejected.length; i++) metrics.backlogDrain.recordMs(drain.timeoutMs);
    return {
      markers: drain.markers,
      pending: pending.length + rejected.length,
      latency: metrics.backlogDrain.summary(),
    };
  }
}

/** `baselineTargets` as threshold results: `rate >= minRatio × baseline GET req/s`. */
export function evaluateBaselineTargets(
  scenario: ScenarioDefinition,
  metrics: ScenarioMetrics,
  baselineGetRps: number | undefined,
): ThresholdResult[] {
  return scenario.baselineTargets.map((target) => {
    const expression = `rate>=${target.minRatio}×baseline`;
    if (baselineGetRps === undefined) {
      return { metric: target.metric, expression, status: 'no-data', actual: null, note: 'no baseline measured' };
    }
    const measured = metrics.lookup(parseMetricSelector(target.metric));
    if (typeof measured === 'string')
      return { metric: target.metric, expression, status: 'unsupported', actual: null, note: measured };
    const actual = statOf(measured, { kind: 'rate' });
    if (typeof actual !== 'number')
      return { metric: target.metric, expression, status: actual.status, actual: null, note: actual.note };
    const min = target.minRatio * baselineGetRps;
    return {
      metric: target.metric,
      expression,
      status: compare(actual, '>=', min) ? 'pass' : 'fail',
      actual,
      note: `baseline ${baselineGetRps.toFixed(0)} req/s → needs ≥ ${min.toFixed(0)} req/s`,
    };
  });
}

function countBy(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([v, n]) => `${v}: ${n}`).join(', ');
}

export function describeExecutor(executor: ExecutorConfig): string {
  switch (executor.executor) {
    case 'constant-arrival-rate':
      return `constant-arrival-rate ${executor.rate}/${executor.timeUnit} for ${executor.duration} (maxVUs ${executor.maxVUs})`;
    case 'constant-vus':
      return `constant-vus ${executor.vus} VUs for ${executor.duration}`;
    case 'ramping-vus':
      return `ramping-vus ${executor.startVUs}→${executor.stages.map((s) => `${s.target} over ${s.duration}`).join(', then ')}`;
  }
}
