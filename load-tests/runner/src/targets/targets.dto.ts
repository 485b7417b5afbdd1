import type { ServerProfile } from '../metrics/server-profiler.service';
import type { CpuReport } from '../metrics/cpu-sampler.service';
import type { QueueDrainResult } from '../metrics/queue-depth.service';

/** The load generator that made a measurement: the Node runner (undici) or wrk (C, Lua scripts). */
export type TargetTool = 'node' | 'wrk';

/**
 * The measurements behind issue 14's target table:
 * - `health-live`: `GET /health/live` at 64 connections, the denominator of the cache-hit ratio;
 * - `cache-hit-get`: cache-hit `GET /v1/kv/{key}` at 64 connections;
 * - `store-put`: `PUT /store` with random keys at 64 connections;
 * - `reference`: the reference profile (300 VUs, 50/50 `/store`), Node runner only;
 * - `sustained-writes-1000`: PUT at a constant 1,000/s for 60 s (open model), Node runner only.
 */
export type TargetProfile = 'health-live' | 'cache-hit-get' | 'store-put' | 'reference' | 'sustained-writes-1000';

/** After a write run: when the backlog the load left was gone. Times count from the end of the load. */
export interface TargetDrain {
  /** Marker writes after the load; each waits behind the backlog of its shard queue. */
  markers: number;
  /** Shard queues the markers cover (all of them, when the management API said how many), else null. */
  shardQueues: number | null;
  /** The slowest marker's time from its accepted write until it read back, ms. */
  markersMaxMs: number | null;
  markersPending: number;
  /** The shard queues' depth from RabbitMQ's management API until every queue reported 0. */
  queues: QueueDrainResult | null;
  queuesError: string | null;
  /** When the backlog was applied (the last marker read back, the queues confirmed empty); null: not in time. */
  drainedAfterMs: number | null;
}

export interface TargetRun {
  tool: TargetTool;
  profile: TargetProfile;
  /** What ran, e.g. the wrk command line or the scenario's executor. */
  command: string;
  connections: number;
  durationS: number;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** PUT p99 of a mixed run (the reference profile), else null. */
  putP99Ms: number | null;
  /** Socket errors, timeouts and unexpected statuses (wrk: statuses ≥ 400). */
  errors: number;
  errorDetail: Record<string, number>;
  /** Write runs: writes the service accepted; null for reads. */
  acceptedWrites: number | null;
  /** Open-model runs: iterations that could not start (every VU busy). */
  dropped: number | null;
  visibilityP99Ms: number | null;
  visibilityTimeouts: number | null;
  /** CPU per tier; for write runs from the start of the load until the queues were drained. */
  cpu: CpuReport | null;
  /** The load generator's CPU over the same window, % of one core (wrk for wrk runs). */
  loadGeneratorPercentOfCore: number | null;
  /** Sum of all tiers' CPU seconds ÷ accepted writes, in ms; null for reads. */
  cpuPerWriteMs: number | null;
  apiMaxRssMiB: number | null;
  drain: TargetDrain | null;
  /** The servers' own counters over the run (`ServerProfiler`): write runs only. */
  serverProfile?: ServerProfile;
}

export interface TargetRunFailure {
  tool: TargetTool;
  profile: TargetProfile;
  error: string;
}

/** One measured cell of the table: the figures in words, and whether they meet the target (null: no data). */
export interface TargetCell {
  text: string;
  passed: boolean | null;
}

export interface TargetRow {
  measure: string;
  before: string;
  target: string;
  node: TargetCell | null;
  wrk: TargetCell | null;
}

export interface TargetsReport {
  /** wrk's version, or why wrk did not run. */
  wrk: { version: string | null; skipped: string | null };
  runs: TargetRun[];
  failures: TargetRunFailure[];
  rows: TargetRow[];
}
