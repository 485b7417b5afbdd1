import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Cluster } from 'ioredis';
import type { Pool } from 'pg';
import { assertSchemaCurrent } from '@keyflow/db';
import { WritePublisher } from '@keyflow/messaging';
import { REDIS, WRITE_POOL } from '@keyflow/runtime';

const logger = new Logger('Startup');

async function retryUntil<T>(what: string, deadline: number, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
      if (attempt === 1 || attempt % 10 === 0) logger.warn(`waiting for ${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * Fail fast: before serving traffic, the database must be reachable with the schema this build knows,
 * the broker must be reachable with the write queues declared, and the Redis cluster must answer.
 * Dependencies get `timeoutMs` to appear (they may start at the same time); a schema mismatch fails at once.
 */
export async function checkDependencies(app: NestFastifyApplication, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pool = app.get<Pool>(WRITE_POOL);
  await retryUntil('the database', deadline, () => pool.query('SELECT 1'));
  await assertSchemaCurrent(pool);
  await retryUntil('RabbitMQ', deadline, () =>
    Promise.race([
      app.get(WritePublisher).waitForConnect(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('not connected yet')), 2_000)),
    ]),
  );
  const redis = app.get<Cluster>(REDIS);
  await retryUntil('the Redis cluster', deadline, () => redis.ping());
}
