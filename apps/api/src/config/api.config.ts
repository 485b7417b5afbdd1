import { z } from 'zod';
import { parseEnv, postgresUrl } from '@keyflow/contracts';
import { runtimeEnv } from '@keyflow/runtime';

/** A comma-separated setting as its trimmed, non-empty items (`lower` for case-insensitive ones such as origins). */
const commaList = (lower = false) =>
  z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((item) => (lower ? item.trim().toLowerCase() : item.trim()))
        .filter(Boolean),
    );

/** Every setting the API reads from its environment, validated once at boot. */
const apiEnvSchema = z.object({
  ...runtimeEnv({ instance: 'api', port: 3000, poolSize: 10 }),
  /** The replicas (HAProxy's read port); the primary's URL when not set. */
  DATABASE_READ_URL: postgresUrl().optional(),
  KV_SHARDS: z.coerce.number().int().min(1).max(1024).default(16),
  QUEUE_REPLICAS: z.coerce.number().int().min(1).max(7).default(3),
  PUBLISH_CONFIRM_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
  NEGATIVE_CACHE_TTL_MS: z.coerce.number().int().min(0).default(5_000),
  /** Writes that may wait (`Prefer: wait`) at once on this instance; beyond it they are answered 202 at once. */
  MAX_PREFER_WAITERS: z.coerce.number().int().min(0).default(1_000),
  /**
   * Load shedding: requests get 503 with Retry-After while the V8 heap in use is above this fraction of the
   * heap limit (`--max-old-space-size`), before the process would die of it. 0 turns it off.
   */
  LOAD_SHED_HEAP_USED_RATIO: z.coerce.number().min(0).max(1).default(0.85),
  /** The same for the resident set size (a container's memory limit, say), in bytes. 0 (the default): off. */
  LOAD_SHED_RSS_BYTES: z.coerce.number().int().min(0).default(0),
  /** The Retry-After of a shed request, in seconds. */
  LOAD_SHED_RETRY_AFTER_S: z.coerce.number().int().min(1).default(2),
  /** `GET /v1/watch` streams this instance serves at once; beyond it a watch gets 503 with Retry-After. */
  WATCH_MAX_STREAMS: z.coerce.number().int().min(0).default(200),
  /** A `: ping` comment on every open watch this often, so that idle streams stay open through proxies. */
  WATCH_HEARTBEAT_MS: z.coerce.number().int().min(100).default(15_000),
  /** A watch ends after this long (its client resumes with Last-Event-ID), so credentials are checked again. */
  WATCH_MAX_DURATION_S: z.coerce
    .number()
    .int()
    .min(1)
    .default(60 * 60),
  /** Unacked change-stream deliveries per watch: what a slow client can hold in the API's memory. */
  WATCH_PREFETCH: z.coerce.number().int().min(1).max(10_000).default(200),
  /** The topology's `auth.readsRequireAuth`: whether GETs need a session or token too (writes always do). */
  READS_REQUIRE_AUTH: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  SESSION_IDLE_TIMEOUT_S: z.coerce
    .number()
    .int()
    .min(60)
    .default(30 * 60),
  SESSION_ABSOLUTE_TIMEOUT_S: z.coerce
    .number()
    .int()
    .min(60)
    .default(12 * 60 * 60),
  LOGIN_MAX_ATTEMPTS_PER_USER: z.coerce.number().int().min(1).default(5),
  LOGIN_MAX_ATTEMPTS_PER_ADDRESS: z.coerce.number().int().min(1).default(50),
  LOGIN_WINDOW_S: z.coerce
    .number()
    .int()
    .min(1)
    .default(5 * 60),
  /**
   * The proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: addresses or CIDRs, comma-separated (the
   * names `loopback`, `linklocal` and `uniquelocal` of proxy-addr too). The local stack sets its gateways' addresses,
   * so a client that reaches an API port directly cannot choose its own address (the login throttle is keyed on it).
   * The default suits containers behind a gateway on a private network (Compose, Kubernetes).
   */
  TRUSTED_PROXIES: z
    .string()
    .default('uniquelocal')
    .pipe(commaList())
    .pipe(z.array(z.string()).min(1, 'name at least one proxy (the gateways), e.g. 127.0.0.21,127.0.0.22')),
  /**
   * The topology file the deployment was made from: `GET /v1/admin/cluster` checks every process it lists. Optional;
   * without it that route lists no processes (queues and dead letters still).
   */
  CLUSTER_TOPOLOGY: z.string().min(1).optional(),
  /**
   * The deployment's Prometheus (`http://host:9090`): `GET /v1/admin/metrics` charts its series for the console.
   * Optional; without it that route answers 503.
   */
  PROMETHEUS_URL: z.string().url().optional(),
  /** Origins besides the service's own allowed to send cookie-authenticated writes (a console on another host). */
  TRUSTED_ORIGINS: commaList(true).pipe(
    z.array(z.string().url('must be a comma-separated list of origins such as https://console.example')),
  ),
});

export type ApiConfig = z.infer<typeof apiEnvSchema> & { DATABASE_READ_URL: string };

/** Parses the environment; throws `ConfigError` listing every bad key. Only this function reads process.env. */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const config = parseEnv(apiEnvSchema, env);
  return { ...config, DATABASE_READ_URL: config.DATABASE_READ_URL ?? config.DATABASE_URL };
}

export const API_CONFIG = Symbol('API_CONFIG');
