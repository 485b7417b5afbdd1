import { z } from 'zod';

/** Every setting the API reads from its environment, validated once at boot. */
const apiEnvSchema = z.object({
  KEYFLOW_INSTANCE: z.string().min(1).default('api'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  AMQP_URL: z
    .string()
    .min(1)
    .transform((v) => v.split(',').map((u) => u.trim()))
    .pipe(z.array(z.string().regex(/^amqps?:\/\//, 'must be amqp:// URLs')).min(1)),
  REDIS_NODES: z
    .string()
    .min(1)
    .transform((v) => v.split(',').map((n) => n.trim()))
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port pairs')).min(1)),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  DATABASE_READ_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  KV_SHARDS: z.coerce.number().int().min(1).max(1024).default(16),
  QUEUE_REPLICAS: z.coerce.number().int().min(1).max(7).default(3),
  PUBLISH_CONFIRM_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
  NEGATIVE_CACHE_TTL_MS: z.coerce.number().int().min(0).default(5_000),
  LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
});

export type ApiConfig = z.infer<typeof apiEnvSchema> & { DATABASE_READ_URL: string };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws `ConfigError` listing every bad key. Only this function reads process.env. */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const result = apiEnvSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  return { ...result.data, DATABASE_READ_URL: result.data.DATABASE_READ_URL ?? result.data.DATABASE_URL };
}

export const API_CONFIG = Symbol('API_CONFIG');
