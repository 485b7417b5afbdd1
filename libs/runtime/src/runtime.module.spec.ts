import 'reflect-metadata';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type RuntimeConfig, runtimeEnv } from './config/runtime-env.util';
import { DependencyHealthIndicator } from './health/dependency-health.indicator';
import { AMQP, READ_POOL, REDIS, WRITE_POOL } from './infrastructure/infrastructure.tokens';
import { loggerParams } from './logging/logger-params.util';
import { createMetricsRegistry } from './metrics/metrics-registry.util';
import { RuntimeModule, type RuntimeOptions } from './runtime.module';
import { type FakeClients, fakeClients, FakePool, overrideClients } from './testing/fake-clients';

const config: RuntimeConfig = z.object(runtimeEnv({ instance: 'proc', port: 4000, poolSize: 5 })).parse({
  AMQP_URL: 'amqp://broker.invalid',
  REDIS_NODES: 'redis.invalid:6379',
  DATABASE_URL: 'postgres://db.invalid/keyflow',
  LOG_LEVEL: 'error',
});
const options: RuntimeOptions = { accessLog: false, writePoolName: 'proc', redisCommandTimeoutMs: 100 };

let moduleRef: TestingModule | undefined;

async function compile(fakes: FakeClients, overrides: Partial<RuntimeOptions> = {}): Promise<TestingModule> {
  moduleRef = await overrideClients(
    Test.createTestingModule({ imports: [RuntimeModule.forRoot(config, { ...options, ...overrides })] }),
    fakes,
  ).compile();
  return moduleRef.init();
}

afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
});

describe(runtimeEnv.name, () => {
  it("should take the app's defaults and list every bad shared key", () => {
    expect(config).toMatchObject({ KEYFLOW_INSTANCE: 'proc', HOST: '127.0.0.1', PORT: 4000, DATABASE_POOL_SIZE: 5 });
    const bad = z.object(runtimeEnv({ instance: 'proc', port: 4000, poolSize: 5 })).safeParse({ LOG_LEVEL: 'loud' });
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual([
      'AMQP_URL',
      'REDIS_NODES',
      'DATABASE_URL',
      'LOG_LEVEL',
    ]);
  });
});

describe(RuntimeModule.name, () => {
  describe(RuntimeModule.forRoot.name, () => {
    it('should provide the clients behind their tokens, and no read pool unless asked for', async () => {
      const fakes = fakeClients();
      const ref = await compile(fakes);
      expect(ref.get(WRITE_POOL)).toBe(fakes.writePool);
      expect(ref.get(REDIS)).toBe(fakes.redis);
      expect(ref.get(AMQP)).toBe(fakes.amqp);
      expect(() => ref.get<unknown>(READ_POOL)).toThrow(/READ_POOL/);
    });
  });

  describe('onApplicationShutdown', () => {
    it('should close the broker connection, then Redis, then every pool', async () => {
      const fakes = fakeClients();
      fakes.readPool = new FakePool(fakes.log, 'read pool');
      const ref = await compile(fakes, {
        readPool: { url: 'postgres://replica.invalid/keyflow', applicationName: 'r' },
      });
      expect(ref.get(READ_POOL)).toBe(fakes.readPool);
      await ref.close();
      moduleRef = undefined;
      expect(fakes.log).toEqual(['amqp: close connection', 'redis: disconnect', 'write pool: end', 'read pool: end']);
    });
  });
});

describe(DependencyHealthIndicator.name, () => {
  it('should report every dependency up', async () => {
    const health = (await compile(fakeClients())).get(DependencyHealthIndicator);
    expect(await Promise.all(health.checks().map(async (check) => check()))).toEqual([
      { database: { status: 'up' } },
      { redis: { status: 'up' } },
      { rabbitmq: { status: 'up' } },
    ]);
  });

  it('should report each dependency down with its reason, and ask every pool', async () => {
    const fakes = fakeClients();
    fakes.readPool = new FakePool(fakes.log, 'read pool');
    const health = (
      await compile(fakes, { readPool: { url: 'postgres://replica.invalid/keyflow', applicationName: 'r' } })
    ).get(DependencyHealthIndicator);
    fakes.readPool.failure = new Error('connect ECONNREFUSED 127.0.0.1:5433');
    (fakes.redis as { status: string }).status = 'reconnecting';
    fakes.amqp.connected = false;
    expect(await Promise.all(health.checks().map(async (check) => check()))).toEqual([
      { database: { status: 'down', message: 'connect ECONNREFUSED 127.0.0.1:5433' } },
      { redis: { status: 'down', message: 'cluster client is reconnecting' } },
      { rabbitmq: { status: 'down', message: 'not connected to the broker' } },
    ]);
    expect(fakes.writePool.queries).toEqual([{ text: 'SELECT 1', values: undefined }]);
  });
});

describe(createMetricsRegistry.name, () => {
  it('should report each pool by state, with the instance on every series', async () => {
    const registry = createMetricsRegistry('proc-1', {
      write: { totalCount: 3, idleCount: 1, waitingCount: 0 },
      read: { totalCount: 2, idleCount: 2, waitingCount: 4 },
    });
    const gauge = await registry.getSingleMetric('keyflow_db_pool_connections')?.get();
    expect(gauge?.values.map((v) => [v.labels.pool, v.labels.state, v.value])).toEqual([
      ['write', 'total', 3],
      ['write', 'idle', 1],
      ['write', 'waiting', 0],
      ['read', 'total', 2],
      ['read', 'idle', 2],
      ['read', 'waiting', 4],
    ]);
    expect(await registry.metrics()).toContain('process_resident_memory_bytes{instance_name="proc-1"}');
  });
});

describe(loggerParams.name, () => {
  it("should map Nest's level to pino's, name the instance and turn the access log on or off", () => {
    const api = loggerParams({ instance: 'api-1', level: 'verbose', accessLog: true }).pinoHttp;
    const worker = loggerParams({ instance: 'worker-1', level: 'log', accessLog: false }).pinoHttp;
    expect(api).toMatchObject({ level: 'trace', base: { instance: 'api-1' }, autoLogging: true });
    expect(worker).toMatchObject({ level: 'info', base: { instance: 'worker-1' }, autoLogging: false });
    expect(api).toHaveProperty('redact.paths', expect.arrayContaining(['req.headers.authorization']));
  });
});
