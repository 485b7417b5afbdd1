import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeWrites, type WriteMessage } from '@keyflow/contracts';
import { pollUntil } from '@keyflow/testing';
import { FakeAmqpConnectionManager } from './testing/fake-amqp';
import { WritePublisher } from './write-publisher.service';
import { watchProcessErrors } from '@keyflow/testing';

const logger = {
  lines: [] as string[],
  log: (m: string) => logger.lines.push(m),
  warn: (m: string) => logger.lines.push(m),
};

describe(WritePublisher.name, () => {
  let amqp: FakeAmqpConnectionManager;
  let watch: ReturnType<typeof watchProcessErrors>;

  beforeEach(() => {
    logger.lines = [];
    watch = watchProcessErrors();
    amqp = new FakeAmqpConnectionManager();
    amqp.connect();
  });

  afterEach(async () => {
    await amqp.close();
    watch.stop();
  });

  describe('publish', () => {
    it('should keep the process up and publish once the broker accepts the queue declarations it refused', async () => {
      let refusals = 2;
      amqp.broker.refuse = (method, queue) =>
        method === 'QueueDeclare' && queue === 'kv.shard.1' && refusals-- > 0
          ? { code: 406, text: "PRECONDITION_FAILED - inequivalent arg 'x-queue-type'" }
          : undefined;
      const publisher = new WritePublisher(amqp.manager, { shards: 2, confirmTimeoutMs: 2_000, logger });

      await pollUntil(
        () => Promise.resolve(refusals),
        (left) => left < 0,
        { what: 'the broker to accept the declarations', timeoutMs: 5_000, intervalMs: 5 },
      );
      await publisher.waitForConnect();
      await publisher.publish({
        v: 1,
        id: '8f14e45f-ceea-4e7a-9f6b-2b7c9c1d0a11',
        key: 'k',
        type: 'delete',
        acceptedAt: new Date().toISOString(),
      });

      expect(watch.errors).toEqual([]);
      expect(amqp.broker.channelsOpened.flatMap((c) => c.published.map((p) => p.routingKey))).toHaveLength(1);
      expect(logger.lines).toEqual(expect.arrayContaining([expect.stringContaining('406 (PRECONDITION_FAILED')]));
      await publisher.close();
    });

    it('should carry the writes that arrive while a confirm is awaited in one batch message, in order', async () => {
      const publisher = new WritePublisher(amqp.manager, { shards: 2, confirmTimeoutMs: 2_000, logger });
      await publisher.waitForConnect();
      const writes: WriteMessage[] = Array.from({ length: 10 }, (_, n) => ({
        v: 1,
        id: `8f14e45f-ceea-4e7a-9f6b-2b7c9c1d0a${String(n).padStart(2, '0')}`,
        key: 'one-key',
        type: 'put',
        value: { n },
        acceptedAt: new Date().toISOString(),
      }));

      await Promise.all(
        writes.map((w, n) =>
          publisher.publish(w, n === 3 ? { replyTo: 'waiting-client' } : { valueJson: `{"n":${n}}` }),
        ),
      );

      const messages = amqp.broker.channelsOpened.flatMap((c) => c.published);
      expect(messages.map((m) => decodeWrites(m.content).length)).toEqual([1, 9]);
      const decoded = messages.flatMap((m) => decodeWrites(m.content));
      expect(decoded.map((d) => (d.ok ? d.message : undefined))).toEqual(writes);
      expect(decoded.map((d) => (d.ok ? d.replyTo : undefined))[3]).toBe('waiting-client');
      expect(publisher.stats()).toEqual({ groups: 2, items: 10, largestGroup: 9 });
      await publisher.close();
    });

    it('should keep each write’s request id in its own line of a batch message, where the worker logs it', async () => {
      const publisher = new WritePublisher(amqp.manager, { shards: 1, confirmTimeoutMs: 2_000, logger });
      await publisher.waitForConnect();
      const writes: WriteMessage[] = ['req-1', 'req-2', undefined, 'req-2'].map((requestId, n) => ({
        v: 1,
        id: `5a14e45f-ceea-4e7a-9f6b-2b7c9c1d0a${String(n).padStart(2, '0')}`,
        key: `k${n}`,
        type: 'put',
        value: n,
        acceptedAt: new Date().toISOString(),
        ...(requestId ? { requestId } : {}),
      }));

      await Promise.all(writes.map((w) => publisher.publish(w, { valueJson: JSON.stringify(w.value) })));

      const messages = amqp.broker.channelsOpened.flatMap((c) => c.published);
      // Group commit: one message carries the writes of several requests, so the id cannot be a message header.
      expect(messages.map((m) => decodeWrites(m.content).length)).toEqual([1, 3]);
      const decoded = messages.flatMap((m) => decodeWrites(m.content));
      expect(decoded.map((d) => (d.ok ? d.message.requestId : 'unreadable'))).toEqual([
        'req-1',
        'req-2',
        undefined,
        'req-2',
      ]);
      await publisher.close();
    });
  });
});
