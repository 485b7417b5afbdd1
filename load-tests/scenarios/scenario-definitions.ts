/**
 * The keyflow load scenarios: one typed description that both the k6 scripts (`load-tests/k6`) and the Node runner
 * (`load-tests/runner`) execute, so the two can never drift apart.
 *
 * Conventions shared by both runners:
 * - Executors use k6's names and parameters; durations are k6 duration strings (`'60s'`, `'1500ms'`).
 * - Thresholds use k6 threshold syntax. Requests of the operation mix are tagged `op:get|put|delete` and
 *   `traffic:load`; setup traffic (`op:setup`) and write-visibility polls (`op:visibility`) are kept out of them.
 * - `write_visibility` (Trend, ms): time from the 202 of a sampled PUT until a GET through the same base URL
 *   returns the new value. Sampled PUTs go to keys nobody else writes, so a later write can't hide them.
 * - `write_backlog_drain` (Trend, ms): after the load stops, a few marker keys are written and the time until
 *   all are readable is recorded. If the write backlog grew during the run, this is where it shows.
 * - `request_budget_elapsed` (Trend, ms): for scenarios with a request budget, the time from the scenario start
 *   until the last request of the budget completed — "N requests at ≥ R req/s" as a single number.
 * - Throughput targets of open-model scenarios are `dropped_iterations` rates (iterations/s the load generator
 *   could not start); targets relative to the bare-server baseline live in `baselineTargets`, because only the
 *   Node runner measures the baseline (k6 scripts turn them into absolute thresholds when given `BASELINE_RPS`).
 *
 * Everything that depends on the run length is computed from `scale` (the `--scale` flag / `SCALE` env), so a
 * short smoke run keeps consistent budgets and thresholds.
 *
 * k6 loads this file as it is, so it imports only types (see `scenarios.ts`); the k6 duration format the
 * definitions are written in lives here for that reason.
 */
import type {
  ConstantArrivalRateExecutor,
  ExecutorConfig,
  ScenarioDefinition,
  ScenarioName,
  Thresholds,
} from './scenario.dto';

/**
 * The order `--scenario all` runs them in. cache-hit-get comes first, right after the baseline it is compared
 * with: after a write-heavy scenario the workers and the broker are still busy for a while, which measured
 * 0.25× instead of 0.40× on the same stack.
 */
export const SCENARIO_NAMES: readonly ScenarioName[] = [
  'cache-hit-get',
  'read-heavy',
  'write-heavy',
  'reference',
  'sustained-writes',
  'soak',
];

/** Scenarios that run only when named (`--scenario memory-soak`), never as part of `all`: they take long. */
export const OPT_IN_SCENARIO_NAMES: readonly ScenarioName[] = ['memory-soak'];

// ---------------------------------------------------------------------------------------------------------------
// Durations

/** Parses a k6 duration (`'1m30s'`, `'250ms'`, `'2h'`, `'1.5s'`) into milliseconds. */
export function parseDurationMs(duration: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let rest = duration.trim();
  let total = 0;
  if (rest === '') throw new Error(`not a duration: '${duration}'`);
  while (rest !== '') {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    const unit = match?.[2];
    if (!match || unit === undefined) throw new Error(`not a duration: '${duration}'`);
    total += Number(match[1]) * (units[unit] ?? 0);
    rest = rest.slice(match[0].length);
  }
  return total;
}

/** Formats milliseconds as a k6 duration, whole seconds where possible. */
export function formatDuration(ms: number): string {
  const rounded = Math.max(0, Math.round(ms));
  return rounded % 1000 === 0 ? `${rounded / 1000}s` : `${rounded}ms`;
}

/** How long the executor runs (without graceful stop), in milliseconds. */
export function executorDurationMs(executor: ExecutorConfig): number {
  switch (executor.executor) {
    case 'constant-arrival-rate':
    case 'constant-vus':
      return parseDurationMs(executor.duration);
    case 'ramping-vus':
      return executor.stages.reduce((sum, stage) => sum + parseDurationMs(stage.duration), 0);
  }
}

/** The most VUs (and so connections) the executor may use. */
export function executorMaxVus(executor: ExecutorConfig): number {
  switch (executor.executor) {
    case 'constant-arrival-rate':
      return executor.maxVUs;
    case 'constant-vus':
      return executor.vus;
    case 'ramping-vus':
      return Math.max(executor.startVUs, ...executor.stages.map((s) => s.target));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The scenarios

const scaled = (ms: number, scale: number, minMs = 1000): string => formatDuration(Math.max(minMs, ms * scale));
const scaledCount = (n: number, scale: number, min: number): number => Math.max(min, Math.round(n * scale));

/** Open model at `rate` iterations per second for `durationMs` (scaled), with a 10 s graceful stop. */
function arrivalRate(
  rate: number,
  durationMs: number,
  scale: number,
  { preAllocatedVUs = 64, maxVUs = 256 }: { preAllocatedVUs?: number; maxVUs?: number } = {},
): ConstantArrivalRateExecutor {
  const duration = scaled(durationMs, scale);
  return {
    executor: 'constant-arrival-rate',
    rate,
    timeUnit: '1s',
    duration,
    preAllocatedVUs,
    maxVUs,
    gracefulStop: '10s',
  };
}

/** The scenarios at `scale` (1 = the published profiles; 0.1 = a smoke run of a tenth of the length). */
export function defineScenarios(scale = 1): Record<ScenarioName, ScenarioDefinition> {
  if (!(scale > 0)) throw new Error(`scale must be a positive number, got ${scale}`);
  const referenceBudget = scaledCount(60_000, scale, 300);
  const referenceRps = 3000;
  // Threshold sets several scenarios share (made per call: nothing returned is shared between calls).
  const GET_LATENCY: Thresholds = { 'http_req_duration{op:get}': ['p(95)<10', 'p(99)<25'] };
  const PUT_LATENCY: Thresholds = { 'http_req_duration{op:put}': ['p(95)<25', 'p(99)<50'] };
  const FEW_ERRORS: Thresholds = { 'http_req_failed{traffic:load}': ['rate<0.001'] };
  const NO_ERRORS: Thresholds = { 'http_req_failed{traffic:load}': ['rate==0'] };

  return {
    'read-heavy': {
      name: 'read-heavy',
      description: '95% GET / 5% PUT of existing keys at a constant 2,000 req/s (open model).',
      targets: ['2,000 req/s sustained', 'GET p95 < 10 ms, p99 < 25 ms', 'PUT p99 < 50 ms', 'errors < 0.1%'],
      api: 'v1',
      executor: arrivalRate(2000, 60_000, scale),
      mix: { get: 95, put: 5, delete: 0 },
      keySpace: scaledCount(10_000, scale, 200),
      valueSize: 256,
      writeVisibility: { sampleRate: 0.1, timeoutMs: 10_000 },
      thresholds: {
        ...GET_LATENCY,
        ...PUT_LATENCY,
        ...FEW_ERRORS,
        dropped_iterations: ['rate<20'],
        write_visibility: ['p(99)<=250'],
      },
      baselineTargets: [],
    },

    'write-heavy': {
      name: 'write-heavy',
      description: '20% GET / 80% PUT at a constant 1,000 req/s (open model).',
      targets: ['1,000 req/s sustained', 'PUT p95 < 25 ms, p99 < 50 ms', 'write visibility p99 ≤ 500 ms'],
      api: 'v1',
      executor: arrivalRate(1000, 60_000, scale),
      mix: { get: 20, put: 80, delete: 0 },
      keySpace: scaledCount(10_000, scale, 200),
      valueSize: 256,
      writeVisibility: { sampleRate: 0.02, timeoutMs: 10_000 },
      backlogDrain: { markers: 16, timeoutMs: 30_000 },
      thresholds: {
        ...GET_LATENCY,
        ...PUT_LATENCY,
        ...FEW_ERRORS,
        dropped_iterations: ['rate<10'],
        write_visibility: ['p(99)<=500'],
        write_backlog_drain: ['max<=1000'],
      },
      baselineTargets: [],
    },

    reference: {
      name: 'reference',
      description:
        "The reference KV store's published profile: 300 VUs ramped up over 30 s, 60,000 requests in total, " +
        'half PUT /store and half GET /store/{key}.',
      targets: ['≥ 3,000 req/s total (60,000 requests within 20 s of the start)', '0 errors', 'PUT p99 ≤ 50 ms'],
      api: 'store',
      executor: {
        executor: 'ramping-vus',
        startVUs: 0,
        // The ramp-up, then a hold that only bounds the run: the request budget normally ends it first.
        stages: [
          { duration: scaled(30_000, scale), target: 300 },
          { duration: scaled(60_000, scale), target: 300 },
        ],
        gracefulRampDown: '5s',
        gracefulStop: '10s',
      },
      mix: { get: 50, put: 50, delete: 0 },
      keySpace: scaledCount(10_000, scale, 200),
      valueSize: 128,
      requestBudget: referenceBudget,
      writeVisibility: { sampleRate: 0, timeoutMs: 10_000 },
      thresholds: {
        ...NO_ERRORS,
        'http_req_duration{op:put}': ['p(99)<=50'],
        'http_reqs{traffic:load}': [`count>=${referenceBudget}`],
        request_budget_elapsed: [`max<=${Math.round((referenceBudget / referenceRps) * 1000)}`],
      },
      baselineTargets: [],
    },

    'cache-hit-get': {
      name: 'cache-hit-get',
      description: 'GET of pre-written (cached) keys with 64 VUs back to back (closed model), like the baseline.',
      targets: ['≥ 60% of the baseline req/s', 'p99 ≤ 20 ms', '0 errors'],
      api: 'v1',
      executor: { executor: 'constant-vus', vus: 64, duration: scaled(20_000, scale), gracefulStop: '5s' },
      mix: { get: 100, put: 0, delete: 0 },
      keySpace: scaledCount(1000, scale, 100),
      valueSize: 256,
      writeVisibility: { sampleRate: 0, timeoutMs: 10_000 },
      thresholds: {
        'http_req_duration{op:get}': ['p(99)<=20'],
        ...NO_ERRORS,
      },
      baselineTargets: [{ metric: 'http_reqs{op:get}', minRatio: 0.6 }],
    },

    'sustained-writes': {
      name: 'sustained-writes',
      description: 'PUT only at a constant 2,000 req/s for 60 s: the write path must keep up without a backlog.',
      targets: ['2,000 PUT/s sustained', 'write visibility p99 ≤ 250 ms', 'no growing backlog (drain ≤ 500 ms)'],
      api: 'v1',
      executor: arrivalRate(2000, 60_000, scale, { preAllocatedVUs: 128, maxVUs: 512 }),
      mix: { get: 0, put: 100, delete: 0 },
      keySpace: scaledCount(100_000, scale, 1000),
      valueSize: 256,
      writeVisibility: { sampleRate: 0.01, timeoutMs: 10_000 },
      backlogDrain: { markers: 32, timeoutMs: 60_000 },
      thresholds: {
        ...PUT_LATENCY,
        ...NO_ERRORS,
        dropped_iterations: ['rate<20'],
        write_visibility: ['p(99)<=250'],
        write_visibility_timeouts: ['count==0'],
        write_backlog_drain: ['max<=500'],
      },
      baselineTargets: [],
    },

    soak: {
      name: 'soak',
      description: '10 minutes of a moderate mix (70% GET / 25% PUT / 5% DELETE) at 500 req/s: leaks and drift.',
      targets: ['500 req/s for 10 min', 'GET p99 < 25 ms, PUT/DELETE p99 < 50 ms', 'errors < 0.1%', 'flat RSS'],
      api: 'v1',
      executor: arrivalRate(500, 600_000, scale, { preAllocatedVUs: 32, maxVUs: 128 }),
      mix: { get: 70, put: 25, delete: 5 },
      keySpace: scaledCount(50_000, scale, 500),
      valueSize: 512,
      writeVisibility: { sampleRate: 0.02, timeoutMs: 10_000 },
      backlogDrain: { markers: 16, timeoutMs: 30_000 },
      thresholds: {
        ...GET_LATENCY,
        'http_req_duration{op:put}': ['p(99)<50'],
        'http_req_duration{op:delete}': ['p(99)<50'],
        ...FEW_ERRORS,
        dropped_iterations: ['rate<5'],
        write_visibility: ['p(99)<=250'],
        write_backlog_drain: ['max<=1000'],
      },
      baselineTargets: [],
    },

    'memory-soak': {
      name: 'memory-soak',
      description:
        'PUT only at a constant 1,000 req/s for 30 minutes over 20,000 keys (with Idempotency-Keys from the ' +
        'gateway): Redis and API memory must stay flat. Not part of `all`; shorten it with --duration or --scale.',
      targets: [
        '1,000 PUT/s for 30 min',
        'errors < 0.1%',
        'Redis used_memory on every master and each API/worker RSS grow < 5% over the second half',
      ],
      api: 'v1',
      executor: arrivalRate(1000, 1_800_000, scale),
      mix: { get: 0, put: 100, delete: 0 },
      // Bounded, so the cache and the version floors reach a steady state; unique keys would grow them by design.
      keySpace: 20_000,
      valueSize: 256,
      // Visibility probes write keys nobody else writes: they would grow the key space.
      writeVisibility: { sampleRate: 0, timeoutMs: 10_000 },
      backlogDrain: { markers: 16, timeoutMs: 60_000 },
      thresholds: {
        ...FEW_ERRORS,
        dropped_iterations: ['rate<10'],
        write_backlog_drain: ['max<=1000'],
      },
      baselineTargets: [],
      memory: { sampleIntervalMs: 10_000, maxGrowthRatio: 0.05 },
    },
  };
}

export function isScenarioName(name: string): name is ScenarioName {
  return ([...SCENARIO_NAMES, ...OPT_IN_SCENARIO_NAMES] as readonly string[]).includes(name);
}

export function getScenario(name: ScenarioName, scale = 1): ScenarioDefinition {
  return defineScenarios(scale)[name];
}
