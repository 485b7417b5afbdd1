import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeWriteBatch, writeMessageText, type WriteMessage } from '@keyflow/contracts';
import type { AppliedOp } from '@keyflow/db';
import { LEGACY_DELIVERY_LIMIT, MIGRATION_SENTINEL_HEADER, shardQueueArguments } from '@keyflow/messaging';
import { pollUntil } from '@keyflow/testing';
import type { WorkerMetrics } from '../metrics/worker-metrics.service';
import { ApplySlots } from './apply-slots';
import type { DeadLetterPublisher, WriteLetter } from './dead-letter-publisher';
import type { OutcomeNotifier } from './outcome-notifier.service';
import { ShardConsumer } from './shard-consumer';
import { watchProcessErrors } from '@keyflow/testing';
import { FakeConnectionManager } from './testing/fake-amqp';
import type { WriteApplier } from './write-applier.service';
import type { BatchChange } from './change-publisher';

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

type Outcome = {
  applied: AppliedOp[];
  rejected: Array<{ message: WriteMessage; reason: string }>;
  retry: WriteMessage[];
  entries: [];
};

function applied(writes: WriteMessage[]): Outcome {
  const ops = writes.map((w) => ({
    ...w,
    status: 'applied' as const,
    version: 1,
    created: true,
    duplicate: false,
    updatedAt: '2026-11-23T10:00:01.000Z',
  }));
  return { applied: ops, rejected: [], retry: [], entries: [] };
}

/** Writes to one key, in order; ids end in their sequence number. */
function writes(n: number): WriteMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    ...write,
    id: `${write.id.slice(0, -4)}${String(i).padStart(4, '0')}`,
  }));
}

const MAX_DELIVERIES = 50;

describe(ShardConsumer.name, () => {
  let amqp: FakeConnectionManager;
  let watch: ReturnType<typeof watchProcessErrors>;
  let warnings: string[];
  /** What was logged with fields (`logger.log(fields, message)` / `warn(fields, message)`), in order. */
  let lines: Array<{ level: 'log' | 'warn'; fields: Record<string, unknown>; message: string }>;
  let applyToDatabase: ReturnType<typeof vi.fn<(writes: WriteMessage[]) => Promise<Outcome>>>;
  let recordFailed: ReturnType<typeof vi.fn<(message: WriteMessage, reason: string) => Promise<void>>>;
  let consumer: ShardConsumer;
  let letters: WriteLetter[];
  let notified: Array<[string | undefined, { id: string; status: string }]>;
  let publishChanges: ReturnType<
    typeof vi.fn<(channel: unknown, changes: BatchChange[], retry: boolean) => Promise<void>>
  >;

  beforeEach(() => {
    watch = watchProcessErrors();
    warnings = [];
    lines = [];
    const capture = (level: 'log' | 'warn', message: unknown, rest: unknown[]) => {
      if (typeof message !== 'object' || message === null) return String(message);
      lines.push({ level, fields: message as Record<string, unknown>, message: String(rest[0]) });
      return String(rest[0]);
    };
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(
      (message: unknown, ...rest: unknown[]) => void warnings.push(capture('warn', message, rest)),
    );
    vi.spyOn(Logger.prototype, 'log').mockImplementation((message: unknown, ...rest: unknown[]) => {
      capture('log', message, rest);
    });
    amqp = new FakeConnectionManager();
    applyToDatabase = vi.fn((batch: WriteMessage[]) => Promise.resolve(applied(batch)));
    recordFailed = vi.fn(() => Promise.resolve());
    letters = [];
    notified = [];
    const deadLetters = { publish: (letter: WriteLetter) => Promise.resolve(void letters.push(letter)) };
    publishChanges = vi.fn(() => Promise.resolve());
    const applier = { applyToDatabase, updateCache: () => Promise.resolve(), recordFailed };
    const metrics = {
      batchSeconds: { startTimer: () => () => 0 },
      batchSize: { observe: () => 0 },
      writes: { inc: () => 0 },
    };
    consumer = new ShardConsumer(
      amqp.manager,
      applier as unknown as WriteApplier,
      {
        notify: (replyTo: string | undefined, outcome: { id: string; status: string }) =>
          void notified.push([replyTo, outcome]),
      } as unknown as OutcomeNotifier,
      metrics as unknown as WorkerMetrics,
      deadLetters as unknown as DeadLetterPublisher,
      { publish: publishChanges },
      {
        shard: 0,
        shards: 1,
        replicas: 1,
        prefetch: 10,
        batchMax: 5,
        maxDeliveries: MAX_DELIVERIES,
        slots: new ApplySlots(1),
      },
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
        queue === QUEUE && refusals-- > 0 ? "406 (PRECONDITION_FAILED - inequivalent arg 'x-queue-type')" : undefined;

      await consumer.start();
      amqp.broker.publish(QUEUE, write);
      await until(() => amqp.broker.consumerOf(QUEUE)?.acked.length === 1, 'the write to be applied and acked');

      expect(watch.errors).toEqual([]);
      expect(applyToDatabase).toHaveBeenCalledTimes(1);
      expect(warnings).toEqual([
        "channel kv.shard.0-consumer: setup failed: Operation failed: QueueDeclare; 406 (PRECONDITION_FAILED - inequivalent arg 'x-queue-type'); re-opening it (attempt 1)",
      ]);
    });

    it('should consume a shard queue an older release declared with x-delivery-limit, as it is', async () => {
      amqp.broker.declare(QUEUE, { ...shardQueueArguments({ shards: 1, replicas: 1 }), 'x-delivery-limit': 5 });

      await consumer.start();
      amqp.broker.publish(QUEUE, write);
      await until(() => amqp.broker.consumerOf(QUEUE)?.acked.length === 1, 'the write to be applied and acked');

      expect(watch.errors).toEqual([]);
      expect(warnings).toEqual(
        expect.arrayContaining([expect.stringContaining('kv.shard.0 was declared by an older keyflow')]),
      );
    });
  });

  describe('restarts and hand-overs', () => {
    it('should apply writes returned to the queue by six restarts, unattempted or in flight, dead-lettering none', async () => {
      const backlog = writes(20);
      // The database hangs each batch until the worker holding it "dies" (its connection drops).
      let inFlight: { fail: () => void } | undefined;
      applyToDatabase.mockImplementation(
        () =>
          new Promise((_resolve, reject) => {
            inFlight = {
              fail: () => reject(Object.assign(new Error('Connection terminated'), { code: 'ECONNRESET' })),
            };
          }),
      );
      await consumer.start();
      for (const w of backlog) amqp.broker.publish(QUEUE, w);

      for (let restart = 1; restart <= 6; restart++) {
        await until(() => applyToDatabase.mock.calls.length === restart, `batch ${restart} in flight`);
        const holder = amqp.broker.consumerOf(QUEUE)!;
        // 5 writes in the transaction, 5 more prefetched and never attempted: all go back to the queue.
        expect(holder.unacked.size).toBe(10);
        holder.closeByBroker('CONNECTION_FORCED - the worker went away');
        inFlight?.fail();
        await until(() => amqp.broker.consumerOf(QUEUE) !== undefined, `a consumer again after restart ${restart}`);
      }
      await until(() => applyToDatabase.mock.calls.length === 7, 'the batch after the last restart');
      const returns = [...amqp.broker.consumerOf(QUEUE)!.unacked.values()].map((p) => p.returns ?? 0);
      // Six returns each: a queue with the old x-delivery-limit would have dead-lettered these ten at the sixth.
      expect(returns).toEqual(Array.from({ length: 10 }, () => 6));
      expect(returns[0]).toBeGreaterThan(LEGACY_DELIVERY_LIMIT);
      const appliedIds = new Set<string>();
      applyToDatabase.mockImplementation((batch) => {
        for (const w of batch) appliedIds.add(w.id);
        return Promise.resolve(applied(batch));
      });
      inFlight?.fail();
      await until(
        () => appliedIds.size === 20 && amqp.broker.consumerOf(QUEUE)?.unacked.size === 0,
        'all 20 writes applied and acked',
      );

      expect(watch.errors).toEqual([]);
      expect(amqp.broker.deadLettered).toEqual([]);
      expect(amqp.broker.ready(QUEUE)).toBe(0);
      expect(recordFailed).not.toHaveBeenCalled();
    }, 20_000);

    it(`should dead-letter unread a write the broker delivered ${MAX_DELIVERIES} times (one that crashes every worker)`, async () => {
      const [crashing, next] = writes(2);
      await consumer.start();
      // As the broker shows it after 49 returns of a delivery nobody settled.
      amqp.broker.publish(QUEUE, crashing, { headers: { 'x-delivery-count': MAX_DELIVERIES - 1 } });
      amqp.broker.publish(QUEUE, next);
      await until(
        () => applyToDatabase.mock.calls.length === 1 && amqp.broker.consumerOf(QUEUE)?.unacked.size === 0,
        'the next write to be applied and both acked',
      );

      expect(applyToDatabase.mock.calls.map(([batch]) => batch.map((w) => w.id))).toEqual([[next?.id]]);
      expect(letters.map((l) => JSON.parse(l.text) as WriteMessage)).toEqual([crashing]);
      expect(amqp.broker.deadLettered).toEqual([]);
      expect(recordFailed).toHaveBeenCalledWith(
        crashing,
        `delivered ${MAX_DELIVERIES} times without an outcome (its worker stopped or lost its connection each time); ` +
          'dead-lettered unattempted, in case it is what stops them',
      );
    });
  });

  describe('poison messages', () => {
    it('should dead-letter alone a write whose value cannot be stored, and apply the rest of its batch at once', async () => {
      const [a, b, c] = writes(3);
      await consumer.start();
      amqp.broker.publish(QUEUE, a);
      // Published before the API checked values: a number no double holds (it would be stored as null).
      amqp.broker.publishRaw(QUEUE, `${JSON.stringify({ ...b, value: undefined }).slice(0, -1)},"value":1e999999}`);
      amqp.broker.publish(QUEUE, c);
      await until(() => letters.length === 1 && amqp.broker.ready(QUEUE) === 0, 'the batch settled');
      await until(() => amqp.broker.consumerOf(QUEUE)?.unacked.size === 0, 'the rest acked');
      expect(letters[0]?.text).toContain('"value":1e999999');

      // One transaction for the two good writes: the bad one never reached the database, nothing was split.
      expect(applyToDatabase.mock.calls.flatMap(([batch]) => batch.map((w) => w.id))).toEqual([a?.id, c?.id]);
      expect(applyToDatabase.mock.calls.length).toBeLessThanOrEqual(2);
      expect(recordFailed).toHaveBeenCalledWith(
        { id: b?.id, key: b?.key, type: 'put', acceptedAt: b?.acceptedAt },
        expect.stringMatching(/^the write cannot be stored as sent: the number 1e999999 at \/value is out of range/),
      );
    });

    it('should take a write out of a batch message alone: its letter published, the others applied, the message acked', async () => {
      const [a, b, c] = writes(3);
      await consumer.start();
      const poison = writeMessageText(b).replace('"value":1', '"value":1e999999');
      amqp.broker.publishRaw(
        QUEUE,
        encodeWriteBatch([writeMessageText(a, undefined, 'reply-a'), poison, writeMessageText(c)]).toString(),
      );
      await until(() => amqp.broker.consumerOf(QUEUE)?.acked.length === 1, 'the batch message acked');

      expect(applyToDatabase.mock.calls.map(([batch]) => batch.map((w) => w.id))).toEqual([[a?.id, c?.id]]);
      expect(letters).toEqual([expect.objectContaining({ text: poison, queue: QUEUE })]);
      expect(recordFailed).toHaveBeenCalledWith(expect.objectContaining({ id: b?.id }), expect.any(String));
      expect(amqp.broker.deadLettered).toEqual([]);
      // Each write's outcome goes to its own client: a's to the queue it named.
      expect(notified.map(([replyTo, o]) => [replyTo, o.id, o.status])).toEqual(
        expect.arrayContaining([
          ['reply-a', a?.id, 'applied'],
          [undefined, b?.id, 'failed'],
        ]),
      );
    });

    it('should keep a batch message unacked until its last write is settled, retrying from the one that failed', async () => {
      const [a, b, c] = writes(3);
      applyToDatabase.mockImplementationOnce((batch) =>
        Promise.resolve({ ...applied(batch.slice(0, 1)), retry: batch.slice(1) }),
      );
      await consumer.start();
      amqp.broker.publishRaw(QUEUE, encodeWriteBatch(writes(3).map((w) => writeMessageText(w))).toString());
      await until(() => applyToDatabase.mock.calls.length === 2, 'the retry');
      await until(() => amqp.broker.consumerOf(QUEUE)?.acked.length === 1, 'the message acked');

      expect(applyToDatabase.mock.calls.map(([batch]) => batch.map((w) => w.id))).toEqual([
        [a?.id, b?.id, c?.id],
        [b?.id, c?.id],
      ]);
      expect(letters).toEqual([]);
    });

    it('should have the broker dead-letter a message whose writes cannot be read at all', async () => {
      await consumer.start();
      amqp.broker.publishRaw(QUEUE, '{"v":2,"writes":3}\n{}');
      amqp.broker.publish(QUEUE, writes(1)[0]);
      await until(() => amqp.broker.deadLettered.length === 1 && applyToDatabase.mock.calls.length === 1, 'settled');
      expect(warnings).toEqual(
        expect.arrayContaining([expect.stringContaining('announces 3 writes and the body has 1')]),
      );
    });

    it('should settle the writes before one whose attempt failed, then retry from that one', async () => {
      const [first, a, b, c] = writes(4);
      let release!: () => void;
      applyToDatabase
        .mockImplementationOnce((batch) => new Promise((resolve) => (release = () => resolve(applied(batch)))))
        // b's attempt fails: a is applied, b and c come back to be retried.
        .mockImplementationOnce((batch) => Promise.resolve({ ...applied(batch.slice(0, 1)), retry: batch.slice(1) }));
      await consumer.start();
      amqp.broker.publish(QUEUE, first);
      await until(() => applyToDatabase.mock.calls.length === 1, 'the first batch in flight');
      // These arrive while it is in flight, and make the next batch together.
      for (const w of [a, b, c]) amqp.broker.publish(QUEUE, w);
      await until(() => amqp.broker.consumerOf(QUEUE)?.unacked.size === 4, 'the next writes delivered');
      release();
      await until(() => applyToDatabase.mock.calls.length === 3, 'the retry');
      await until(() => amqp.broker.consumerOf(QUEUE)?.unacked.size === 0, 'all acked');

      expect(applyToDatabase.mock.calls.map(([batch]) => batch.map((w) => w.id))).toEqual([
        [first?.id],
        [a?.id, b?.id, c?.id],
        [b?.id, c?.id],
      ]);
      expect(amqp.broker.consumerOf(QUEUE)?.acked).toEqual([1, 2, 3, 4]);
      expect(amqp.broker.deadLettered).toEqual([]);
    });

    it('should ack and ignore the probe the queue migration sends through a shard queue', async () => {
      await consumer.start();
      amqp.broker.publishRaw(QUEUE, '', { headers: { [MIGRATION_SENTINEL_HEADER]: 'probe-1' } });
      amqp.broker.publish(QUEUE, write);
      await until(() => amqp.broker.consumerOf(QUEUE)?.acked.length === 2, 'the probe and the write acked');

      expect(applyToDatabase.mock.calls.map(([batch]) => batch.map((w) => w.id))).toEqual([[write.id]]);
      expect(amqp.broker.deadLettered).toEqual([]);
      expect(recordFailed).not.toHaveBeenCalled();
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
  describe('request ids', () => {
    it("should log one line per settled write with its request's id, shard, operation, key and version", async () => {
      const [a, b, c] = writes(3);
      applyToDatabase.mockImplementationOnce((batch) => {
        const outcome = applied(batch);
        outcome.applied[1] = { ...outcome.applied[1], status: 'conflict', version: 4 };
        outcome.applied[2] = { ...outcome.applied[2], duplicate: true, version: 2 };
        return Promise.resolve(outcome);
      });
      await consumer.start();
      // One batch message carries the writes of several requests (group commit): each write names its own.
      amqp.broker.publishRaw(
        QUEUE,
        encodeWriteBatch([
          writeMessageText({ ...a, requestId: 'req-a' }),
          writeMessageText({ ...b, requestId: 'req-b' }),
          // Published before request ids existed, or by a worker's expiry sweep: logged without one.
          writeMessageText(c),
        ]).toString(),
      );
      await until(() => amqp.broker.consumerOf(QUEUE)?.acked.length === 1, 'the batch to be acked');

      expect(lines).toEqual([
        {
          level: 'log',
          fields: {
            requestId: 'req-a',
            operationId: a?.id,
            key: 'k',
            type: 'put',
            status: 'applied',
            version: 1,
            shard: 0,
          },
          message: 'write applied',
        },
        {
          level: 'log',
          fields: {
            requestId: 'req-b',
            operationId: b?.id,
            key: 'k',
            type: 'put',
            status: 'conflict',
            version: 4,
            shard: 0,
          },
          message: 'write conflict',
        },
        {
          level: 'log',
          fields: {
            operationId: c?.id,
            key: 'k',
            type: 'put',
            status: 'applied',
            version: 2,
            shard: 0,
            duplicate: true,
          },
          message: 'write already applied',
        },
      ]);
    });

    it('should name the request of a dead-lettered write, one that cannot be read as a write included', async () => {
      const [a, b] = writes(2);
      applyToDatabase.mockImplementationOnce((batch) =>
        Promise.resolve({ ...applied([]), rejected: [{ message: batch[0], reason: 'refused for good' }] }),
      );
      await consumer.start();
      const poison = writeMessageText({ ...b, requestId: 'req-poison' }).replace('"value":1', '"value":1e999999');
      amqp.broker.publishRaw(
        QUEUE,
        encodeWriteBatch([writeMessageText({ ...a, requestId: 'req-refused' }), poison]).toString(),
      );
      await until(() => amqp.broker.consumerOf(QUEUE)?.acked.length === 1, 'the batch to be acked');

      expect(lines.map((l) => [l.level, l.fields, l.message.split(':')[0]])).toEqual([
        [
          'warn',
          { requestId: 'req-poison', operationId: b?.id, key: 'k', status: 'dead-lettered', shard: 0 },
          'dead-lettering a write',
        ],
        [
          'warn',
          { requestId: 'req-refused', operationId: a?.id, key: 'k', status: 'dead-lettered', shard: 0 },
          'dead-lettering a write',
        ],
      ]);
      // The letter is the write's own line, request id included: a replay is logged under the same request.
      expect(letters.map((l) => (JSON.parse(l.text) as { requestId?: string }).requestId)).toEqual([
        'req-poison',
        'req-refused',
      ]);
    });
  });

  describe('changes', () => {
    it('should publish the applied changes on its own channel, and ack only once the broker confirmed them', async () => {
      let confirm!: () => void;
      publishChanges.mockImplementationOnce(() => new Promise<void>((resolve) => (confirm = resolve)));
      await consumer.start();
      amqp.broker.publish(QUEUE, write);
      await until(() => publishChanges.mock.calls.length === 1, 'the changes to be published');

      const channel = amqp.broker.consumerOf(QUEUE)!;
      expect(channel.acked).toEqual([]);
      confirm();
      await until(() => channel.acked.length === 1, 'the write to be acked');

      const [[publishedOn, changes, retry]] = publishChanges.mock.calls as [[unknown, BatchChange[], boolean]];
      expect(publishedOn).toBe(channel);
      expect(retry).toBe(false);
      expect(changes).toEqual([
        {
          change: { kind: 'put', key: 'k', version: 1, valueJson: '1', updatedAt: '2026-11-23T10:00:01.000Z' },
          duplicate: false,
        },
      ]);
    });

    it('should publish again, as a retry, changes the broker did not confirm, and ack after', async () => {
      publishChanges.mockImplementationOnce(() => Promise.reject(new Error('nack')));
      await consumer.start();
      amqp.broker.publish(QUEUE, write);
      await until(() => amqp.broker.consumerOf(QUEUE)?.acked.length === 1, 'the write to be acked');

      expect(publishChanges.mock.calls.map(([, changes, retry]) => [changes.length, retry])).toEqual([
        [1, false],
        [1, true],
      ]);
      expect(applyToDatabase).toHaveBeenCalledTimes(1);
      expect(warnings).toEqual(['publishing changes failed (attempt 1), retrying: nack']);
    });

    it('should publish the changes of writes an earlier delivery applied, and none for a conflict', async () => {
      applyToDatabase.mockImplementationOnce((batch) => {
        const outcome = applied(batch);
        outcome.applied[0] = { ...outcome.applied[0], duplicate: true, version: 4 };
        outcome.applied[1] = { ...outcome.applied[1], status: 'conflict', version: 4 };
        outcome.applied[2] = { ...outcome.applied[2], version: 5 };
        return Promise.resolve(outcome);
      });
      await consumer.start();
      amqp.broker.publishRaw(QUEUE, encodeWriteBatch(writes(3).map((w) => writeMessageText(w))).toString());
      await until(() => amqp.broker.consumerOf(QUEUE)?.acked.length === 1, 'the batch to be acked');

      const [[, changes]] = publishChanges.mock.calls as unknown as [[unknown, BatchChange[]]];
      expect(changes.map((c) => [c.change.version, c.duplicate])).toEqual([
        [4, true],
        [5, false],
      ]);
    });

    it('should not publish, nor ack, once its channel closed under the batch: the next holder publishes them', async () => {
      let commit!: () => void;
      applyToDatabase.mockImplementationOnce(
        (batch) => new Promise((resolve) => (commit = () => resolve(applied(batch)))),
      );
      await consumer.start();
      amqp.broker.publish(QUEUE, write);
      await until(() => applyToDatabase.mock.calls.length === 1, 'the batch to reach the database');

      const first = amqp.broker.consumerOf(QUEUE)!;
      first.cancelConsumer();
      await until(() => amqp.broker.consumerOf(QUEUE) !== first, 'the shard to be on a new channel');
      commit();
      await until(() => amqp.broker.consumerOf(QUEUE)?.acked.length === 1, 'the redelivery to be acked');

      expect(first.acked).toEqual([]);
      expect(publishChanges.mock.calls.map(([channel]) => channel === first)).toEqual([false]);
    });
  });
});
