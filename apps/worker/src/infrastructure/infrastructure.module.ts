import { Global, Module } from '@nestjs/common';
import type { Cluster } from 'ioredis';
import type { Pool } from 'pg';
import { KvCache } from '@keyflow/cache';
import { KvRepository, OperationRepository } from '@keyflow/db';
import { REDIS, WRITE_POOL } from '@keyflow/runtime';

/** The repositories and the cache the worker makes from the clients `RuntimeModule` provides (the primary, Redis). */
@Global()
@Module({
  providers: [
    { provide: KvRepository, inject: [WRITE_POOL], useFactory: (pool: Pool) => new KvRepository(pool) },
    { provide: OperationRepository, inject: [WRITE_POOL], useFactory: (pool: Pool) => new OperationRepository(pool) },
    { provide: KvCache, inject: [REDIS], useFactory: (redis: Cluster) => new KvCache(redis) },
  ],
  exports: [KvRepository, OperationRepository, KvCache],
})
export class InfrastructureModule {}
