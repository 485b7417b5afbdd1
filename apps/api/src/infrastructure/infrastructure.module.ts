import { type BeforeApplicationShutdown, Global, Logger, Module } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Cluster } from 'ioredis';
import type { Pool } from 'pg';
import { IdempotencyStore, KvCache, OperationTracker } from '@keyflow/cache';
import { KvListRepository, KvRepository, OperationRepository } from '@keyflow/db';
import { WritePublisher } from '@keyflow/messaging';
import { AMQP, READ_POOL, REDIS, WRITE_POOL } from '@keyflow/runtime';
import { API_CONFIG, type ApiConfig } from '../config/api.config';

/**
 * The repositories, caches and the write publisher the API makes from the clients `RuntimeModule` provides (the
 * pools, the Redis cluster, the broker connection). Shared by every feature module.
 */
@Global()
@Module({
  providers: [
    {
      provide: KvRepository,
      inject: [WRITE_POOL, READ_POOL],
      useFactory: (w: Pool, r: Pool) => new KvRepository(w, r),
    },
    {
      provide: KvListRepository,
      inject: [WRITE_POOL, READ_POOL],
      useFactory: (w: Pool, r: Pool) => new KvListRepository(w, r),
    },
    { provide: OperationRepository, inject: [WRITE_POOL], useFactory: (w: Pool) => new OperationRepository(w) },
    {
      provide: KvCache,
      inject: [REDIS, API_CONFIG],
      useFactory: (redis: Cluster, config: ApiConfig) =>
        new KvCache(redis, { negativeTtlMs: config.NEGATIVE_CACHE_TTL_MS }),
    },
    { provide: OperationTracker, inject: [REDIS], useFactory: (redis: Cluster) => new OperationTracker(redis) },
    { provide: IdempotencyStore, inject: [REDIS], useFactory: (redis: Cluster) => new IdempotencyStore(redis) },
    {
      provide: WritePublisher,
      inject: [AMQP, API_CONFIG],
      useFactory: (amqp: AmqpConnectionManager, config: ApiConfig) =>
        new WritePublisher(amqp, {
          shards: config.KV_SHARDS,
          replicas: config.QUEUE_REPLICAS,
          confirmTimeoutMs: config.PUBLISH_CONFIRM_TIMEOUT_MS,
          logger: new Logger('Infrastructure'),
        }),
    },
  ],
  exports: [
    KvRepository,
    KvListRepository,
    OperationRepository,
    KvCache,
    OperationTracker,
    IdempotencyStore,
    WritePublisher,
  ],
})
export class InfrastructureModule implements BeforeApplicationShutdown {
  constructor(private readonly publisher: WritePublisher) {}

  /** Before the connection closes (`RuntimeModule`, on application shutdown): in-flight publishes get their confirms. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.publisher.close().catch(() => undefined);
  }
}
