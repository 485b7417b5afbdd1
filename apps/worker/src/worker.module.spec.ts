import 'reflect-metadata';
import type { Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { shardQueueName, type WriteMessage } from '@keyflow/contracts';
import { KvRepository, OperationRepository } from '@keyflow/db';
import { AMQP, REDIS, WRITE_POOL } from '@keyflow/runtime';
import { createTestingApp, type FakeClients, fakeClients, overrideClients } from '@keyflow/runtime/testing';
import { pollUntil } from '@keyflow/testing';
import { ShardCoordinator } from './apply/shard-coordinator.service';
import { WriteApplier } from './apply/write-applier.service';
import { loadWorkerConfig, WORKER_CONFIG } from './config/worker.config';
import { createWorkerApp } from './main';
import { WorkerModule } from './worker.module';

/**
 * The worker's real module graph built by `@nestjs/testing`, with only its clients (pool, Redis cluster, AMQP
 * connection) replaced by in-process fakes (`@keyflow/runtime/testing`). No broker, no database: the coordinator is
 * started once, against the fakes, to see its consumers register; the HTTP routes are called through Fastify's
 * `inject` on the app `main.ts` creates.
 */
const config = loadWorkerConfig({
  KEYFLOW_INSTANCE: 'worker-module-test',
  AMQP_URL: 'amqp://broker.invalid',
  REDIS_NODES: 'redis.invalid:6379',
  DATABASE_URL: 'postgres://db.invalid/keyflow',
  KV_SHARDS: '4',
  LOG_LEVEL: 'error',
});

async function compileWorker(fakes: FakeClients): Promise<TestingModule> {
  const moduleRef = await overrideClients(
    Test.createTestingModule({ imports: [WorkerModule.forRoot(config)] }),
    fakes,
  ).compile();
  return moduleRef.init();
}

describe(WorkerModule.name, () => {
  describe(WorkerModule.forRoot.name, () => {
    const fakes = fakeClients();
    let moduleRef: TestingModule;

    beforeAll(async () => {
      moduleRef = await compileWorker(fakes);
    });

    afterAll(async () => {
      await moduleRef?.close();
    });

    it('should resolve every provider, with the fakes behind the infrastructure tokens', () => {
      expect(moduleRef.get(WORKER_CONFIG)).toBe(config);
      expect(moduleRef.get(WRITE_POOL)).toBe(fakes.writePool);
      expect(moduleRef.get(REDIS)).toBe(fakes.redis);
      expect(moduleRef.get(AMQP)).toBe(fakes.amqp);
      const declared = WorkerModule.forRoot(config).providers?.filter((p): p is Type => typeof p === 'function') ?? [];
      expect(declared).toContain(ShardCoordinator);
      for (const provider of [...declared, KvRepository, OperationRepository]) {
        expect(moduleRef.get<unknown>(provider)).toBeInstanceOf(provider);
      }
      // KvCache, built by the real factory, defined its Lua commands on the fake cluster.
      expect(fakes.redis.scripts).toEqual(['kvFill', 'kvCommit']);
    });

    it('should open only the notifier and metrics channels on the fake connection until the coordinator starts', () => {
      expect(fakes.amqp.channels.map((c) => c.name).sort()).toEqual(['metrics', 'outcome-notifier']);
    });

    it('should give the coordinator one consumer per configured shard, none consuming before start', () => {
      const { members, home, stats } = moduleRef.get(ShardCoordinator).shards();
      expect(members).toEqual([]);
      expect(home).toEqual([]);
      expect(stats.map(({ shard, consuming }) => ({ shard, consuming }))).toEqual([
        { shard: 0, consuming: false },
        { shard: 1, consuming: false },
        { shard: 2, consuming: false },
        { shard: 3, consuming: false },
      ]);
    });

    it('should build the applier on the fake pool: a batch the database cannot take is thrown back to be retried', async () => {
      const unreachable = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      fakes.writePool.failure = unreachable;
      const message: WriteMessage = {
        v: 1,
        id: '6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b',
        key: 'user:42',
        type: 'put',
        value: 1,
        acceptedAt: '2026-01-01T00:00:00.000Z',
      };
      try {
        await expect(moduleRef.get(WriteApplier).applyToDatabase([message])).rejects.toBe(unreachable);
      } finally {
        fakes.writePool.failure = undefined;
      }
      expect(fakes.writePool.connects).toBe(1);
    });
  });

  describe('start', () => {
    it('should join the group in the fake Redis and register a consumer per home shard on the fake connection', async () => {
      const fakes = fakeClients();
      const moduleRef = await compileWorker(fakes);
      const coordinator = moduleRef.get(ShardCoordinator);
      // Resolves once the consumers are registered, which needs a broker: closing the module releases it.
      const started = coordinator.start();
      const consumerChannels = Array.from({ length: 4 }, (_, shard) => `${shardQueueName(shard)}-consumer`);
      try {
        await pollUntil(
          () => Promise.resolve(fakes.amqp.channels.map((c) => c.name)),
          (names) => consumerChannels.every((name) => names.includes(name)),
          { timeoutMs: 2_000, what: 'a consumer channel per shard' },
        );
        const { members, home, stats } = coordinator.shards();
        expect(members).toEqual(['worker-module-test']);
        expect([...(fakes.redis.sortedSets.get('keyflow:workers')?.keys() ?? [])]).toEqual([
          expect.stringMatching(/^worker-module-test@[0-9a-f]{8}$/),
        ]);
        expect(home).toEqual([0, 1, 2, 3]);
        expect(stats.every((s) => s.consuming)).toBe(true);
        // Alone in the group, it holds every shard: the expiry sweeper expires the keys of all of them.
        expect([...coordinator.heldShards()]).toEqual([0, 1, 2, 3]);
      } finally {
        await moduleRef.close();
        await started;
      }
      expect([...coordinator.heldShards()]).toEqual([]);
      expect(fakes.log).toEqual(expect.arrayContaining(consumerChannels.map((name) => `amqp: close channel ${name}`)));
    });
  });

  describe('close', () => {
    const leftGroup = expect.stringMatching(/^redis: zrem keyflow:workers worker-module-test@[0-9a-f]{8}$/);
    const channelsClosed = ['amqp: close channel outcome-notifier', 'amqp: close channel metrics'];
    const clientsClosed = ['amqp: close connection', 'redis: disconnect', 'write pool: end'];

    it('should leave the worker group, close the channels and close every client', async () => {
      const fakes = fakeClients();
      const moduleRef = await compileWorker(fakes);
      await moduleRef.close();
      expect(fakes.log).toHaveLength(6);
      expect(fakes.log).toEqual(expect.arrayContaining([leftGroup, ...channelsClosed, ...clientsClosed]));
    });

    // WorkerModule.forRoot is global, so Nest gives it the same distance as the global InfrastructureModule, and
    // their onApplicationShutdown hooks ran in an order that closed the clients first. The services now stop in
    // beforeApplicationShutdown, which Nest runs for every module before any onApplicationShutdown.
    it('should close the clients only after the services that use them have stopped', async () => {
      const fakes = fakeClients();
      const moduleRef = await compileWorker(fakes);
      await moduleRef.close();
      expect(fakes.log.slice(-3)).toEqual(clientsClosed);
    });
  });
});

describe(createWorkerApp.name, () => {
  const fakes = fakeClients();
  let app: NestFastifyApplication;

  beforeAll(async () => {
    app = await createTestingApp(
      () => createWorkerApp(config),
      (builder) => overrideClients(builder, fakes),
    );
  });

  afterAll(async () => {
    await app?.close();
  });

  beforeEach(() => {
    fakes.amqp.connected = true;
  });

  const up = { database: { status: 'up' }, redis: { status: 'up' }, rabbitmq: { status: 'up' } };

  it('should answer liveness with the instance, and name it in X-Served-By', async () => {
    const r = await app.inject({ method: 'GET', url: '/health/live' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['x-served-by']).toBe('worker-module-test');
    expect(r.json()).toEqual({ status: 'ok', instance: 'worker-module-test' });
  });

  it('should answer readiness 200 from the fake dependencies', async () => {
    const r = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json()).toEqual({ status: 'ok', instance: 'worker-module-test', checks: up });
  });

  it('should answer readiness 503 naming the dependency that is down', async () => {
    fakes.amqp.connected = false;
    const r = await app.inject({ method: 'GET', url: '/health/ready?verbose' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({
      status: 'error',
      instance: 'worker-module-test',
      checks: { ...up, rabbitmq: { status: 'down', message: 'not connected to the broker' } },
    });
  });

  it('should list the shards the coordinator holds', async () => {
    const r = await app.inject({ method: 'GET', url: '/shards' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual(JSON.parse(JSON.stringify(app.get(ShardCoordinator).shards())));
    expect(r.json<{ stats: unknown[] }>().stats).toHaveLength(4);
  });

  it('should serve the Prometheus metrics: the runtime pool gauge and the worker metrics', async () => {
    fakes.writePool.totalCount = 3;
    const r = await app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.body).toContain(
      'keyflow_db_pool_connections{pool="write",state="total",instance_name="worker-module-test"} 3',
    );
    expect(r.body).toContain('# TYPE keyflow_apply_batch_size histogram');
    expect(r.body).toContain('process_resident_memory_bytes{instance_name="worker-module-test"}');
  });

  it('should answer an unknown path 404 with a JSON problem document', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/kv/k?x=1' });
    expect(r.statusCode).toBe(404);
    expect(r.headers['x-served-by']).toBe('worker-module-test');
    expect(r.json()).toEqual({ type: 'about:blank', title: 'Not found', status: 404, detail: 'no route /v1/kv/k' });
  });
});
