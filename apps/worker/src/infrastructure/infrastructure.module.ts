import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Cluster } from 'ioredis';
import type { Pool } from 'pg';
import { createRedisCluster, KvCache } from '@keyflow/cache';
import { createPool, KvRepository, OperationRepository } from '@keyflow/db';
import { createAmqpConnection } from '@keyflow/messaging';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { AMQP, REDIS, WRITE_POOL } from './infrastructure.tokens';

const logger = new Logger('Infrastructure');

/** The worker's clients: the DB primary through HAProxy, the Redis cluster and the broker. Closed last on shutdown. */
@Global()
@Module({
  providers: [
    {
      provide: WRITE_POOL,
      inject: [WORKER_CONFIG],
      useFactory: (config: WorkerConfig): Pool =>
        createPool(config.DATABASE_URL, {
          applicationName: config.KEYFLOW_INSTANCE,
          max: config.DATABASE_POOL_SIZE,
          onError: (err) => logger.warn(`pool: ${err.message}`),
        }),
    },
    {
      provide: REDIS,
      inject: [WORKER_CONFIG],
      useFactory: (config: WorkerConfig): Cluster =>
        createRedisCluster({
          nodes: config.REDIS_NODES,
          commandTimeoutMs: 2_000,
          logger,
        }),
    },
    {
      provide: AMQP,
      inject: [WORKER_CONFIG],
      useFactory: (config: WorkerConfig): AmqpConnectionManager =>
        createAmqpConnection({
          urls: config.AMQP_URL,
          connectionName: config.KEYFLOW_INSTANCE,
          logger,
        }),
    },
    { provide: KvRepository, inject: [WRITE_POOL], useFactory: (pool: Pool) => new KvRepository(pool) },
    { provide: OperationRepository, inject: [WRITE_POOL], useFactory: (pool: Pool) => new OperationRepository(pool) },
    { provide: KvCache, inject: [REDIS], useFactory: (redis: Cluster) => new KvCache(redis) },
  ],
  exports: [WRITE_POOL, REDIS, AMQP, KvRepository, OperationRepository, KvCache],
})
export class InfrastructureModule implements OnApplicationShutdown {
  constructor(
    @Inject(WRITE_POOL) private readonly pool: Pool,
    @Inject(REDIS) private readonly redis: Cluster,
    @Inject(AMQP) private readonly amqp: AmqpConnectionManager,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.amqp.close().catch(() => undefined);
    this.redis.disconnect();
    await this.pool.end().catch(() => undefined);
  }
}
