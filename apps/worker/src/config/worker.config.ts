import { z } from 'zod';

const list = (pattern: RegExp, message: string) =>
  z
    .string()
    .min(1)
    .transform((v) => v.split(',').map((s) => s.trim()))
    .pipe(z.array(z.string().regex(pattern, message)).min(1));

/** Every setting the worker reads from its environment, validated once at boot. */
const workerEnvSchema = z.object({
  KEYFLOW_INSTANCE: z.string().min(1).default('worker'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(1).max(65535).default(3100),
  AMQP_URL: list(/^amqps?:\/\//, 'must be amqp:// URLs'),
  REDIS_NODES: list(/^[^:\s]+:\d+$/, 'must be host:port pairs'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(20),
  KV_SHARDS: z.coerce.number().int().min(1).max(1024).default(16),
  QUEUE_REPLICAS: z.coerce.number().int().min(1).max(7).default(3),
  /** Unacknowledged messages a shard may hold; bounds the largest batch. */
  PREFETCH: z.coerce.number().int().min(1).max(5_000).default(500),
  /** Most writes applied in one transaction. */
  BATCH_MAX: z.coerce.number().int().min(1).max(2_000).default(250),
  /** How long a worker waits before standing by for shards another worker owns. */
  STANDBY_DELAY_MS: z.coerce.number().int().min(0).default(1_500),
  /** Finished operations are kept this long, then removed in the background. */
  OPERATION_RETENTION_HOURS: z.coerce.number().min(0.001).default(168),
  RETENTION_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).default(60_000),
  LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
});

export type WorkerConfig = z.infer<typeof workerEnvSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws `ConfigError` listing every bad key. Only this function reads process.env. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const result = workerEnvSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  return result.data;
}

export const WORKER_CONFIG = Symbol('WORKER_CONFIG');
