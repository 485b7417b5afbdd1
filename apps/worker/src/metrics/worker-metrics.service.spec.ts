import { Logger } from '@nestjs/common';
import type { Pool } from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEAD_LETTER_QUEUE } from '@keyflow/contracts';
import { watchProcessErrors } from '@keyflow/testing';
import { FakeConnectionManager } from '../apply/testing/fake-amqp';
import type { WorkerConfig } from '../config/worker.config';
import { WorkerMetrics } from './worker-metrics.service';

describe(WorkerMetrics.name, () => {
  let amqp: FakeConnectionManager;
  let watch: ReturnType<typeof watchProcessErrors>;
  let metrics: WorkerMetrics;

  beforeEach(() => {
    watch = watchProcessErrors();
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    amqp = new FakeConnectionManager();
    metrics = new WorkerMetrics(
      { KEYFLOW_INSTANCE: 'worker-1', KV_SHARDS: 2 } as WorkerConfig,
      { totalCount: 2, idleCount: 1, waitingCount: 0 } as Pool,
      amqp.manager,
    );
  });

  afterEach(async () => {
    await metrics.beforeApplicationShutdown();
    await amqp.close();
    watch.stop();
    vi.restoreAllMocks();
  });

  const depths = async () =>
    (await metrics.registry.getSingleMetric('keyflow_queue_depth')?.get())?.values.map((v) => [
      v.labels.queue,
      v.value,
    ]);

  describe('keyflow_queue_depth', () => {
    it('should report each write queue, and skip a missing one without dropping the connection', async () => {
      amqp.broker.declare('kv.shard.0', {});
      amqp.broker.declare(DEAD_LETTER_QUEUE, {});
      amqp.broker.publish('kv.shard.0', { n: 1 });
      amqp.broker.publish('kv.shard.0', { n: 2 });

      // kv.shard.1 does not exist: the broker closes the channel that asked (404), and nothing after it is reported.
      await vi.waitFor(async () => expect(await depths()).toEqual([['kv.shard.0', 2]]), { timeout: 3_000 });
      expect(amqp.broker.connectionsLost).toBe(0);
      expect(watch.errors).toEqual([]);

      // The channel is re-opened for the next scrape.
      amqp.broker.declare('kv.shard.1', {});
      await vi.waitFor(async () => expect(await depths()).toContainEqual([DEAD_LETTER_QUEUE, 0]), { timeout: 3_000 });
      expect(await depths()).toEqual([
        ['kv.shard.0', 2],
        ['kv.shard.1', 0],
        [DEAD_LETTER_QUEUE, 0],
      ]);
      expect(amqp.broker.connectionsLost).toBe(0);
      expect(watch.errors).toEqual([]);
    });
  });
});
