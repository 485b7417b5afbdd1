import { z } from 'zod';
import { amqpUrls, postgresUrl, redisNodes } from '@keyflow/contracts';

/** Nest's log level names, as `LOG_LEVEL` takes them. */
export const LOG_LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What differs between the apps in the settings they share. */
export interface RuntimeEnvDefaults {
  instance: string;
  port: number;
  poolSize: number;
}

/**
 * The settings every keyflow process that serves HTTP and talks to the database, Redis and the broker reads: its
 * name, where it listens, its three dependencies and its log level. An app spreads this into its own schema
 * (`z.object({ ...runtimeEnv({ … }), … })`), so each app still has one schema, validated once at boot.
 */
export function runtimeEnv(defaults: RuntimeEnvDefaults) {
  return {
    KEYFLOW_INSTANCE: z.string().min(1).default(defaults.instance),
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: z.coerce.number().int().min(1).max(65535).default(defaults.port),
    AMQP_URL: amqpUrls(),
    REDIS_NODES: redisNodes(),
    // The apps' ACL user on every Redis node (the stack and the deploy files set both; unset: no ACL login).
    REDIS_USERNAME: z.string().min(1).optional(),
    REDIS_PASSWORD: z.string().min(1).optional(),
    DATABASE_URL: postgresUrl(),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(defaults.poolSize),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('log'),
  };
}

/** The shared settings once parsed, as an app's config has them. */
export type RuntimeConfig = z.infer<z.ZodObject<ReturnType<typeof runtimeEnv>>>;
