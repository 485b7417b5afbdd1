import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Cluster } from 'ioredis';
import type { Pool } from 'pg';
import { AMQP, READ_POOL, REDIS, WRITE_POOL } from '../infrastructure/infrastructure.tokens';

const TIMEOUT_MS = 1_500;

function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} did not answer in ${TIMEOUT_MS} ms`)), TIMEOUT_MS),
    ),
  ]);
}

/** Readiness of each dependency: ready means this instance can both read and accept writes. */
@Injectable()
export class DependencyHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(WRITE_POOL) private readonly writePool: Pool,
    @Inject(READ_POOL) private readonly readPool: Pool,
    @Inject(REDIS) private readonly cluster: Cluster,
    @Inject(AMQP) private readonly amqp: AmqpConnectionManager,
  ) {}

  async database(): Promise<HealthIndicatorResult> {
    const check = this.health.check('database');
    try {
      await withTimeout(
        Promise.all([this.writePool.query('SELECT 1'), this.readPool.query('SELECT 1')]),
        'the database',
      );
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
