import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Cluster } from 'ioredis';
import type { Pool } from 'pg';
import { createRedisCluster, IdempotencyStore, KvCache, OperationTracker } from '@keyflow/cache';
import { createPool, KvRepository, OperationRepository } from '@keyflow/db';
import { createAmqpConnection, WritePublisher } from '@keyflow/messaging';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { AMQP, READ_POOL, REDIS, WRITE_POOL } from './infrastructure.tokens';

const logger = new Logger('Infrastructure');

/**
 * Builds the clients the API talks to (DB pools through HAProxy, the Redis cluster, the AMQP connection) and
 * the repositories and services made from them. Shared by every feature module; closed on shutdown.
 */
@Global()
@Module({
  providers: [
    {
      provide: WRITE_POOL,
      inject: [API_CONFIG],
      useFactory: (config: ApiConfig): Pool =>
        createPool(config.DATABASE_URL, {
          applicationName: `${config.KEYFLOW_INSTANCE}-write`,
          max: config.DATABASE_POOL_SIZE,
          onError: (err) => logger.warn(`write pool: ${err.message}`),
        }),
    },
    {
      provide: READ_POOL,
      inject: [API_CONFIG],
      useFactory: (config: ApiConfig): Pool =>
        createPool(config.DATABASE_READ_URL, {
          applicationName: `${config.KEYFLOW_INSTANCE}-read`,
          max: config.DATABASE_POOL_SIZE,
          onError: (err) => logger.warn(`read pool: ${err.message}`),
        }),
    },
    {
      provide: REDIS,
      inject: [API_CONFIG],
      useFactory: (config: ApiConfig): Cluster =>
        createRedisCluster({
          nodes: config.REDIS_NODES,
          commandTimeoutMs: 500,
          logger,
        }),
    },
    {
      provide: AMQP,
      inject: [API_CONFIG],
      useFactory: (config: ApiConfig): AmqpConnectionManager =>
        createAmqpConnection({
          urls: config.AMQP_URL,
          connectionName: config.KEYFLOW_INSTANCE,
          logger,
        }),
    },
    {
      provide: KvRepository,
      inject: [WRITE_POOL, READ_POOL],
      useFactory: (write: Pool, read: Pool) => new KvRepository(write, read),
    },
    {
      provide: OperationRepository,
      inject: [WRITE_POOL],
      useFactory: (write: Pool) => new OperationRepository(write),
    },
    {
      provide: KvCache,
      inject: [REDIS, API_CONFIG],
      useFactory: (redis: Cluster, config: ApiConfig) =>
        new KvCache(redis, { negativeTtlMs: config.NEGATIVE_CACHE_TTL_MS }),
    },
    {
      provide: OperationTracker,
      inject: [REDIS],
      useFactory: (redis: Cluster) => new OperationTracker(redis),
    },
    {
      provide: IdempotencyStore,
      inject: [REDIS],
      useFactory: (redis: Cluster) => new IdempotencyStore(redis),
    },
    {
      provide: WritePublisher,
      inject: [AMQP, API_CONFIG],
      useFactory: (amqp: AmqpConnectionManager, config: ApiConfig) =>
        new WritePublisher(amqp, {
          shards: config.KV_SHARDS,
          replicas: config.QUEUE_REPLICAS,
          confirmTimeoutMs: config.PUBLISH_CONFIRM_TIMEOUT_MS,
          logger,
        }),
    },
  ],
  exports: [
    WRITE_POOL,
    READ_POOL,
    REDIS,
    AMQP,
    KvRepository,
    OperationRepository,
    KvCache,
    OperationTracker,
    IdempotencyStore,
    WritePublisher,
  ],
})
export class InfrastructureModule implements OnApplicationShutdown {
  constructor(
    @Inject(WRITE_POOL) private readonly writePool: Pool,
    @Inject(READ_POOL) private readonly readPool: Pool,
    @Inject(REDIS) private readonly redis: Cluster,
    @Inject(AMQP) private readonly amqp: AmqpConnectionManager,
    private readonly publisher: WritePublisher,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    // The publisher first: in-flight publishes get their confirms before the connection goes.
    await this.publisher.close().catch(() => undefined);
    await this.amqp.close().catch(() => undefined);
    this.redis.disconnect();
    await Promise.all([this.writePool.end(), this.readPool.end()]).catch(() => undefined);
  }
}
