import { z } from 'zod';
import { parseEnv } from '@keyflow/contracts';
import { runtimeEnv } from '@keyflow/runtime';

/** Every setting the worker reads from its environment, validated once at boot. */
const workerEnvSchema = z.object({
  /** `PORT`: health, shards and metrics (`/health/live`, `/health/ready`, `/shards`, `/metrics`). */
  ...runtimeEnv({ instance: 'worker', port: 3100, poolSize: 20 }),
  KV_SHARDS: z.coerce.number().int().min(1).max(1024).default(16),
  QUEUE_REPLICAS: z.coerce.number().int().min(1).max(7).default(3),
  /** Unacknowledged messages a shard may hold; bounds the largest batch. */
  PREFETCH: z.coerce.number().int().min(1).max(5_000).default(500),
  /**
   * Shard batches of this worker in a database transaction at once (see ApplySlots). 2 per worker suits a
   * database on a few cores; raise it for a CockroachDB cluster with many nodes.
   */
  APPLY_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(2),
  /** Most writes applied in one transaction. */
  BATCH_MAX: z.coerce.number().int().min(1).max(2_000).default(250),
  /**
   * Failed attempts to apply one write before it is dead-lettered (a write the database refuses for good, or an
   * invalid one, is dead-lettered at the first). Only attempts that ran and failed count: see ShardConsumer.
   */
  MAX_APPLY_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
  /**
   * Safety net against a write that crashes every worker that takes it, which no attempt count can see: a delivery
   * the broker has handed out this often without an outcome is dead-lettered unread. Far above the restarts and
   * shard hand-overs a healthy write may sit through in a backlog, each of which counts one.
   */
  MAX_DELIVERIES: z.coerce.number().int().min(2).max(10_000).default(50),
  /** How long a worker waits before standing by for shards another worker owns. */
  STANDBY_DELAY_MS: z.coerce.number().int().min(0).default(1_500),
  /** Finished operations are kept this long, then removed in the background. */
  OPERATION_RETENTION_HOURS: z.coerce.number().min(0.001).default(168),
  RETENTION_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).default(60_000),
  /**
   * How often the expiry sweeper looks for keys whose time to live ran out; with the apply's own latency it bounds
   * how late an expiry is applied (`ExpirySweeper`).
   */
  EXPIRY_SWEEP_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  /** Keys read per page of the expiry index; a sweep reads at most 8 pages. */
  EXPIRY_SWEEP_BATCH: z.coerce.number().int().min(1).max(10_000).default(500),
});

export type WorkerConfig = z.infer<typeof workerEnvSchema>;

/** Parses the environment; throws `ConfigError` listing every bad key. Only this function reads process.env. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return parseEnv(workerEnvSchema, env);
}

export const WORKER_CONFIG = Symbol('WORKER_CONFIG');
