import { shardOf } from '@keyflow/contracts';
import { drainKey, formatDuration, type ScenarioDefinition, type ScenarioName } from '../../../scenarios/scenarios';

/** How long each closed-model target run lasts at `scale` (20 s at 1, never under 5 s), like `cache-hit-get`. */
export function targetRunMs(scale: number): number {
  return Math.max(5000, Math.round(20_000 * scale));
}

/** Connections of the closed-model target runs, as in the wrk measurements and `cache-hit-get`. */
export const TARGET_CONNECTIONS = 64;

/** Keys of the `PUT /store` runs: random over a space this large, so almost every write is to a new key. */
export const STORE_PUT_KEY_SPACE = 1_000_000;
/** The reference profile's value size (`PUT /store` bodies). */
export const STORE_PUT_VALUE_SIZE = 128;
/** Marker writes after a write run: spread over many keys, so over every shard queue. */
export const DRAIN_MARKERS = 64;
/**
 * Marker keys for the drain check: at least `count`, and, when the number of shard queues is known, at least one per
 * shard queue (keys are hashed to shards as the API does), so that every marker read back means every queue has
 * been applied up to the marker — each shard queue is applied in order.
 */
export function drainMarkerKeys(prefix: string, shards: number | undefined, count = DRAIN_MARKERS): string[] {
  const keys: string[] = [];
  const covered = new Set<number>();
  const limit = count + 100 * (shards ?? 0);
  for (let i = 0; keys.length < limit; i++) {
    const key = drainKey(prefix, i);
    keys.push(key);
    if (shards !== undefined) covered.add(shardOf(key, shards));
    if (keys.length >= count && (shards === undefined || covered.size >= shards)) break;
  }
  return keys;
}

/** How long to wait for the queues to drain after a write run before giving up. */
export const DRAIN_TIMEOUT_MS = 60_000;

/**
 * `PUT /store` with random keys at 64 connections (closed model), for the Node runner: the same profile as
 * `load-tests/wrk/store-put.lua`. Built from the reference scenario (same API, same value size), as a runner-local
 * variant (the shared scenario list is not the place for a measurement only the targets table uses).
 */
export function storePutScenario(
  definitions: Record<ScenarioName, ScenarioDefinition>,
  scale: number,
): ScenarioDefinition {
  const reference = definitions.reference;
  return {
    ...reference,
    description: 'PUT /store with random keys, 64 VUs back to back (closed model), like wrk at 64 connections.',
    targets: ['≥ 1,500 req/s', 'p99 ≤ 100 ms', '0 errors', 'queues drained within 10 s'],
    executor: {
      executor: 'constant-vus',
      vus: TARGET_CONNECTIONS,
      duration: formatDuration(targetRunMs(scale)),
      gracefulStop: '10s',
    },
    mix: { get: 0, put: 100, delete: 0 },
    keySpace: STORE_PUT_KEY_SPACE,
    valueSize: STORE_PUT_VALUE_SIZE,
    requestBudget: undefined,
    writeVisibility: { sampleRate: 0, timeoutMs: 10_000 },
    backlogDrain: { markers: DRAIN_MARKERS, timeoutMs: DRAIN_TIMEOUT_MS },
    thresholds: {
      'http_req_failed{traffic:load}': ['rate==0'],
      'http_req_duration{op:put}': ['p(99)<=100'],
      write_backlog_drain: ['max<=10000'],
    },
    baselineTargets: [],
  };
}

/**
 * `sustained-writes` at 1,000 writes/s for 60 s × scale (the rate; the scenario's own is 2,000/s), with the
 * issue's targets as thresholds: visibility p99 ≤ 250 ms, none timed out, < 1 % dropped, the backlog drained ≤ 1 s.
 */
export function sustainedWritesAt1000(
  definitions: Record<ScenarioName, ScenarioDefinition>,
  scale: number,
): ScenarioDefinition {
  const sustained = definitions['sustained-writes'];
  if (sustained.executor.executor !== 'constant-arrival-rate')
    throw new Error('sustained-writes is expected to be an open-model (constant-arrival-rate) scenario');
  return {
    ...sustained,
    description: 'PUT only at a constant 1,000 req/s for 60 s (open model): the workers must keep up.',
    targets: ['1,000 PUT/s sustained', 'write visibility p99 ≤ 250 ms', 'backlog drained ≤ 1 s'],
    executor: {
      ...sustained.executor,
      rate: 1000,
      duration: formatDuration(Math.max(5000, Math.round(60_000 * scale))),
    },
    thresholds: {
      'http_req_failed{traffic:load}': ['rate<0.001'],
      dropped_iterations: ['rate<10'],
      write_visibility: ['p(99)<=250'],
      write_visibility_timeouts: ['count==0'],
      write_backlog_drain: ['max<=1000'],
    },
  };
}
