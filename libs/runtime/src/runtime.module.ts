import {
  type DynamicModule,
  Inject,
  Logger,
  Module,
  type OnApplicationShutdown,
  Optional,
  type Provider,
} from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Cluster } from 'ioredis';
import { LoggerModule } from 'nestjs-pino';
import type { Pool } from 'pg';
import { createRedisCluster } from '@keyflow/cache';
import { createPool } from '@keyflow/db';
import { createAmqpConnection } from '@keyflow/messaging';
import type { RuntimeConfig } from './config/runtime-env.util';
import { DependencyHealthIndicator } from './health/dependency-health.indicator';
import { AMQP, READ_POOL, REDIS, WRITE_POOL } from './infrastructure/infrastructure.tokens';
import { loggerParams } from './logging/logger-params.util';

/** One `pg` pool: where it connects and the name it has in `pg_stat_activity` (tests find a worker by it). */
export interface PoolTarget {
  url: string;
  applicationName: string;
}

/** How an app's clients differ; everything else comes from its `RuntimeConfig`. */
export interface RuntimeOptions {
  /** One access log line per HTTP request (see `loggerParams`). */
  accessLog: boolean;
  /** The primary's pool (`DATABASE_URL`, `WRITE_POOL`) is named this in `pg_stat_activity`. */
  writePoolName: string;
  /** Replicas (HAProxy's read port): `READ_POOL`, provided only when given. */
  readPool?: PoolTarget;
  /** How long a Redis command may take before it fails. */
  redisCommandTimeoutMs: number;
}

const logger = new Logger('Infrastructure');

function clientProviders(config: RuntimeConfig, options: RuntimeOptions): Provider[] {
  const pool = (name: string, target: PoolTarget): Pool =>
    createPool(target.url, {
      applicationName: target.applicationName,
      max: config.DATABASE_POOL_SIZE,
      onError: (err) => logger.warn({ err, pool: name }, 'idle database connection failed'),
    });
  const write = { url: config.DATABASE_URL, applicationName: options.writePoolName };
  const read = options.readPool;
  return [
    { provide: WRITE_POOL, useFactory: (): Pool => pool('write', write) },
    ...(read ? [{ provide: READ_POOL, useFactory: (): Pool => pool('read', read) }] : []),
    {
      provide: REDIS,
      useFactory: (): Cluster =>
        createRedisCluster({
          nodes: config.REDIS_NODES,
          username: config.REDIS_USERNAME,
          password: config.REDIS_PASSWORD,
          commandTimeoutMs: options.redisCommandTimeoutMs,
          logger,
        }),
    },
    {
      provide: AMQP,
      useFactory: (): AmqpConnectionManager =>
        createAmqpConnection({ urls: config.AMQP_URL, connectionName: config.KEYFLOW_INSTANCE, logger }),
    },
  ];
}

/**
 * What every keyflow process is built on, imported once by the app's root module (global):
 * - the pino logger (`nestjs-pino`), with the process's instance name and level;
 * - the clients, behind `WRITE_POOL` (and `READ_POOL`), `REDIS` and `AMQP`: the database through HAProxy, the Redis
 *   cluster, the broker connection. Closed in `onApplicationShutdown`, which Nest runs only after every module's
 *   `beforeApplicationShutdown`: services that use the clients stop there, and the clients stay until they have;
 * - Terminus and `DependencyHealthIndicator`, the readiness checks of those clients.
 *
 * Tests replace the clients with `overrideClients` (`@keyflow/runtime/testing`); everything built from them is real.
 */
@Module({})
export class RuntimeModule implements OnApplicationShutdown {
  constructor(
    @Inject(WRITE_POOL) private readonly writePool: Pool,
    @Inject(REDIS) private readonly redis: Cluster,
    @Inject(AMQP) private readonly amqp: AmqpConnectionManager,
    @Optional() @Inject(READ_POOL) private readonly readPool?: Pool,
  ) {}

  static forRoot(config: RuntimeConfig, options: RuntimeOptions): DynamicModule {
    const clients = clientProviders(config, options);
    const tokens = options.readPool ? [WRITE_POOL, READ_POOL, REDIS, AMQP] : [WRITE_POOL, REDIS, AMQP];
    return {
      module: RuntimeModule,
      global: true,
      imports: [
        LoggerModule.forRoot(
          loggerParams({ instance: config.KEYFLOW_INSTANCE, level: config.LOG_LEVEL, accessLog: options.accessLog }),
        ),
        TerminusModule.forRoot({ logger: false, errorLogStyle: 'json' }),
      ],
      providers: [...clients, DependencyHealthIndicator],
      exports: [...tokens, TerminusModule, DependencyHealthIndicator],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.amqp.close().catch(() => undefined);
    this.redis.disconnect();
    const pools = this.readPool ? [this.writePool, this.readPool] : [this.writePool];
    await Promise.all(pools.map((pool) => pool.end())).catch(() => undefined);
  }
}
