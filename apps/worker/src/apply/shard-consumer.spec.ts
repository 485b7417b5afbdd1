import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WriteMessage } from '@keyflow/contracts';
import type { AppliedOp } from '@keyflow/db';
import { pollUntil } from '@keyflow/testing';
import type { WorkerMetrics } from '../metrics/worker-metrics.service';
import { ApplySlots } from './apply-slots';
import type { OutcomeNotifier } from './outcome-notifier.service';
import { ShardConsumer } from './shard-consumer';
import { FakeConnectionManager, watchProcessErrors } from './testing/fake-amqp';
import type { WriteApplier } from './write-applier.service';

const QUEUE = 'kv.shard.0';
const write: WriteMessage = {
  v: 1,
  id: '3c9a1f0e-7b2d-4e8a-9c51-0d6e2f4a8b13',
  key: 'k',
  type: 'put',
  value: 1,
  acceptedAt: '2026-11-23T10:00:00.000Z',
};

function until(condition: () => boolean, what: string): Promise<boolean> {
  return pollUntil(() => Promise.resolve(condition()), Boolean, { what, timeoutMs: 5_000, intervalMs: 5 });
}

function applied(writes: WriteMessage[]): { applied: AppliedOp[]; rejected: []; entries: [] } {
  const ops = writes.map((w) => ({ ...w, status: 'applied' as const, version: 1, created: true, duplicate: false }));
  return { applied: ops, rejected: [], entries: [] };
}

describe(ShardConsumer.name, () => {
  let amqp: FakeConnectionManager;
  let watch: ReturnType<typeof watchProcessErrors>;
  let warnings: string[];
  let applyToDatabase: ReturnType<typeof vi.fn<(writes: WriteMessage[]) => Promise<ReturnType<typeof applied>>>>;
  let consumer: ShardConsumer;

  beforeEach(() => {
    watch = watchProcessErrors();
    warnings = [];
    vi.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
    vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    amqp = new FakeConnectionManager();
    applyToDatabase = vi.fn((writes: WriteMessage[]) => Promise.resolve(applied(writes)));
    const applier = { applyToDatabase, updateCache: () => Promise.resolve(), recordFailed: () => Promise.resolve() };
    const metrics = {
      batchSeconds: { startTimer: () => () => 0 },
      batchSize: { observe: () => 0 },
      writes: { inc: () => 0 },
    };
    consumer = new ShardConsumer(
      amqp.manager,
      applier as unknown as WriteApplier,
      { notify: () => undefined } as unknown as OutcomeNotifier,
      metrics as unknown as WorkerMetrics,
      { shard: 0, shards: 1, replicas: 1, prefetch: 10, batchMax: 10, slots: new ApplySlots(1) },
    );
  });

  afterEach(async () => {
    amqp.broker.holdCloses = false;
    for (const channel of amqp.broker.channels) channel.closeOk();
    await consumer.stop();
    await amqp.close();
    watch.stop();
    vi.restoreAllMocks();
  });

  describe('start', () => {
    it('should keep the process up when the broker refuses its shard queue, and consume once it accepts it', async () => {
      let refusals = 1;
      amqp.broker.refuse = (queue) =>
        queue === QUEUE && refusals-- > 0
          ? "406 (PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit')"
          : undefined;

      await consumer.start();
      amqp.broker.publish(QUEUE, write);
      await until(() => amqp.broker.consumerOf(QUEUE)?.acked.length === 1, 'the write to be applied and acked');

      expect(watch.errors).toEqual([]);
      expect(applyToDatabase).toHaveBeenCalledTimes(1);
      expect(warnings).toEqual([
        "channel kv.shard.0-consumer: setup failed: Operation failed: QueueDeclare; 406 (PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit'); re-opening it (attempt 1)",
      ]);
    });
  });

  describe('ack', () => {
    it('should log an ack its closing channel refuses, and apply the redelivery on the next channel', async () => {
      let commit!: () => void;
      applyToDatabase.mockImplementationOnce(
        (writes) => new Promise((resolve) => (commit = () => resolve(applied(writes)))),
      );
      amqp.broker.holdCloses = true;
      await consumer.start();
      amqp.broker.publish(QUEUE, write);
      await until(() => applyToDatabase.mock.calls.length === 1, 'the batch to reach the database');

      // The broker cancels the consumer; the channel closes while the batch is in its transaction.
      const first = amqp.broker.consumerOf(QUEUE)!;
      first.cancelConsumer();
      expect(first.state).toBe('closing');
      commit();
      await until(() => warnings.some((w) => w.startsWith('could not ack-up-to')), 'the refused ack');
      first.closeOk();
      await until(() => amqp.broker.consumerOf(QUEUE)?.acked.length === 1, 'the redelivery to be acked');

      expect(watch.errors).toEqual([]);
      expect(first.acked).toEqual([]);
      expect(amqp.broker.consumerOf(QUEUE)).not.toBe(first);
      // Applied twice: the repository skips an operation id it already recorded.
      expect(applyToDatabase.mock.calls.map(([writes]) => writes.map((w) => w.id))).toEqual([[write.id], [write.id]]);
      expect(warnings).toEqual([
        'could not ack-up-to delivery 1; the broker will redeliver it: Channel closing',
        'channel kv.shard.0-consumer: the broker cancelled the consumer; re-opening it (attempt 1)',
      ]);
    });
  });
});
