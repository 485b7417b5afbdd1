/**
 * The shape of a load scenario, as both runners read it. Durations are k6 duration strings (`'60s'`,
 * `'1500ms'`); executors use k6's names and parameters; thresholds use k6 threshold syntax.
 */
import type { ApiStyle, Operation } from './kv-request.util';

export type ScenarioName =
  'read-heavy' | 'write-heavy' | 'reference' | 'cache-hit-get' | 'sustained-writes' | 'soak' | 'memory-soak';

/** Open model: iterations start at `rate` per `timeUnit` whether or not earlier ones finished. */
export interface ConstantArrivalRateExecutor {
  executor: 'constant-arrival-rate';
  rate: number;
  timeUnit: string;
  duration: string;
  preAllocatedVUs: number;
  maxVUs: number;
  gracefulStop: string;
}

/** Closed model: a fixed number of VUs, each starting its next iteration when the previous one ended. */
export interface ConstantVusExecutor {
  executor: 'constant-vus';
  vus: number;
  duration: string;
  gracefulStop: string;
}

export interface RampingStage {
  duration: string;
  target: number;
}

/** Closed model with a VU count that follows `stages` linearly. */
export interface RampingVusExecutor {
  executor: 'ramping-vus';
  startVUs: number;
  stages: RampingStage[];
  gracefulRampDown: string;
  gracefulStop: string;
}

export type ExecutorConfig = ConstantArrivalRateExecutor | ConstantVusExecutor | RampingVusExecutor;

/** k6 threshold syntax: metric (with optional `{tag:value}` filter) → expressions such as `p(99)<50`. */
export type Thresholds = Record<string, string[]>;

/** A throughput target relative to the baseline (bare Fastify behind nginx, GET at 64 connections). */
export interface BaselineTarget {
  /** A Counter metric, e.g. `http_reqs{op:get}`. */
  metric: string;
  /** The metric's rate must be at least this fraction of the baseline's GET req/s. */
  minRatio: number;
}

export interface WriteVisibilityConfig {
  /** Fraction of PUTs that are sampled (0 disables). */
  sampleRate: number;
  /** Give up on a sample after this long and count it in `write_visibility_timeouts`. */
  timeoutMs: number;
}

export interface BacklogDrainConfig {
  /** Marker keys written after the load; spread over many keys so they land on many shards. */
  markers: number;
  timeoutMs: number;
}

/**
 * Memory sampling (Node runner only): Redis `INFO memory` on every master and the RSS of every API and worker
 * process, every `sampleIntervalMs`. Memory is flat when, over the second half of the load (the first half
 * fills caches and TTL-bounded records up to their steady state), no sampled figure grew by more than
 * `maxGrowthRatio` of its value at the half.
 */
export interface MemorySamplingConfig {
  sampleIntervalMs: number;
  maxGrowthRatio: number;
}

export interface ScenarioDefinition {
  name: ScenarioName;
  description: string;
  /** The published targets in words, for reports and the README. */
  targets: string[];
  api: ApiStyle;
  executor: ExecutorConfig;
  /** Operation → relative weight. */
  mix: Record<Operation, number>;
  /** The mix uses keys `0 … keySpace-1`; setup writes them all first when the mix reads (`needsPrewrite`). */
  keySpace: number;
  /** Length of the JSON string value written by PUTs, in characters (ASCII, so bytes). */
  valueSize: number;
  /** Stop after this many requests of the mix (the scenario's executor still bounds the duration). */
  requestBudget?: number;
  writeVisibility: WriteVisibilityConfig;
  backlogDrain?: BacklogDrainConfig;
  thresholds: Thresholds;
  baselineTargets: BaselineTarget[];
  memory?: MemorySamplingConfig;
}
