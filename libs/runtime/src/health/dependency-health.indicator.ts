import { Inject, Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorFunction, type HealthIndicatorResult } from '@nestjs/terminus';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Cluster } from 'ioredis';
import type { Pool } from 'pg';
import { AMQP, READ_POOL, REDIS, WRITE_POOL } from '../infrastructure/infrastructure.tokens';

const TIMEOUT_MS = 1_500;

function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer in ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Readiness of each client `RuntimeModule` built: ready means this process can reach the database (every pool it
 * has), the Redis cluster and the broker. Each check answers within 1.5 s, down with the reason otherwise.
 */
@Injectable()
export class DependencyHealthIndicator {
  private readonly pools: Pool[];

  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(WRITE_POOL) writePool: Pool,
    @Inject(REDIS) private readonly cluster: Cluster,
    @Inject(AMQP) private readonly amqp: AmqpConnectionManager,
    @Optional() @Inject(READ_POOL) readPool?: Pool,
  ) {
    this.pools = readPool ? [writePool, readPool] : [writePool];
  }

  /** The three checks, for `HealthCheckService.check`. */
  checks(): HealthIndicatorFunction[] {
    return [() => this.database(), () => this.redis(), () => this.rabbitmq()];
  }

  async database(): Promise<HealthIndicatorResult> {
    const check = this.health.check('database');
    try {
      await withTimeout(Promise.all(this.pools.map((pool) => pool.query('SELECT 1'))), 'the database');
      return check.up();
    } catch (err) {
      return check.down({ message: (err as Error).message });
    }
  }

  async redis(): Promise<HealthIndicatorResult> {
    const check = this.health.check('redis');
    if (this.cluster.status !== 'ready') return check.down({ message: `cluster client is ${this.cluster.status}` });
    try {
      await withTimeout(this.cluster.ping(), 'redis');
      return check.up();
    } catch (err) {
      return check.down({ message: (err as Error).message });
    }
  }

  rabbitmq(): HealthIndicatorResult {
    const check = this.health.check('rabbitmq');
    return this.amqp.isConnected() ? check.up() : check.down({ message: 'not connected to the broker' });
  }
}
