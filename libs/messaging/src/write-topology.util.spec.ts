import type { Channel } from 'amqplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHANGE_STREAM, DEAD_LETTER_AUDIT_QUEUE, DEAD_LETTER_QUEUE } from '@keyflow/contracts';
import { SupervisedChannel } from './supervised-channel.util';
import { FakeAmqpConnectionManager } from './testing/fake-amqp';
import { WriteTopology } from './write-topology.util';

const LEGACY_REFUSAL = {
  code: 406,
  text: "PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue 'kv.shard.0' in vhost '/': received none but current is the value '5' of type 'signedint'",
};

describe(WriteTopology.name, () => {
  let amqp: FakeAmqpConnectionManager;
  let lines: string[];
  let channel: SupervisedChannel | undefined;
  const logger = { log: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };

  const open = (topology: WriteTopology) =>
    (channel = new SupervisedChannel(amqp.manager, {
      name: 'topology',
      confirm: false,
      logger,
      retryDelayMs: () => 5,
      setup: (ch: Channel) => topology.assertAll(ch),
    }));

  beforeEach(() => {
    lines = [];
    amqp = new FakeAmqpConnectionManager();
    amqp.connect();
  });

  afterEach(async () => {
    await channel?.close();
    channel = undefined;
    await amqp.close();
  });

  describe('assertAll', () => {
    it('should declare the shard queues without x-delivery-limit, the dead-letter queues and the change stream', async () => {
      await open(new WriteTopology({ shards: 2 }, logger)).waitForConnect();

      expect(amqp.broker.declared.map((d) => d.queue)).toEqual([
        DEAD_LETTER_QUEUE,
        DEAD_LETTER_AUDIT_QUEUE,
        CHANGE_STREAM,
        'kv.shard.0',
        'kv.shard.1',
      ]);
      expect(amqp.broker.declared[2]?.arguments).toEqual({
        'x-queue-type': 'stream',
        'x-max-age': '24h',
        'x-stream-max-segment-size-bytes': 64_000_000,
        'x-initial-cluster-size': 3,
      });
      expect(amqp.broker.declared[3]?.arguments).toEqual({
        'x-queue-type': 'quorum',
        'x-single-active-consumer': true,
        'x-dead-letter-exchange': 'kv.dead-letter',
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish',
        'x-quorum-initial-group-size': 3,
      });
      expect(lines).toEqual([]);
    });

    it('should use shard queues an older release declared with x-delivery-limit as they are, after one refusal', async () => {
      // Such a broker refuses every declaration of a shard queue without the argument.
      amqp.broker.refuse = (method, queue) =>
        method === 'QueueDeclare' && queue.startsWith('kv.shard.') ? LEGACY_REFUSAL : undefined;
      const topology = new WriteTopology({ shards: 3 }, logger);

      const supervised = open(topology);
      await supervised.waitForConnect();

      expect(supervised.ready).toBe(true);
      expect(topology.legacyShards).toEqual([0, 1, 2]);
      // One refused declaration (of the first shard queue), one re-opened channel; then only passive checks.
      expect(amqp.broker.declared.filter((d) => d.queue.startsWith('kv.shard.')).map((d) => d.queue)).toEqual([
        'kv.shard.0',
      ]);
      expect(amqp.broker.channelsOpened).toHaveLength(2);
      expect(lines.filter((l) => l.includes('declared by an older keyflow'))).toEqual([
        'kv.shard.0 was declared by an older keyflow with x-delivery-limit 5: using the shard queues as they are. ' +
          'Until they are re-created (the worker migrate step does it while they are empty and unused), the broker ' +
          'dead-letters a write returned to its queue more than 5 times, worker restarts included',
      ]);
    });

    it('should declare a shard queue it took as legacy once the broker says it no longer exists', async () => {
      let legacyRefusals = 1;
      let missing = 1;
      amqp.broker.refuse = (method, queue) => {
        if (method === 'QueueDeclare' && queue === 'kv.shard.0' && legacyRefusals-- > 0) return LEGACY_REFUSAL;
        if (method === 'QueueCheck' && queue === 'kv.shard.1' && missing-- > 0) {
          return { code: 404, text: "NOT_FOUND - no queue 'kv.shard.1' in vhost '/'" };
        }
        return undefined;
      };
      const topology = new WriteTopology({ shards: 3 }, logger);

      const supervised = open(topology);
      await supervised.waitForConnect();

      expect(supervised.ready).toBe(true);
      expect(topology.legacyShards).toEqual([0, 2]);
      expect(amqp.broker.declared.filter((d) => d.queue.startsWith('kv.shard.')).map((d) => d.queue)).toEqual([
        'kv.shard.0',
        'kv.shard.1',
      ]);
    });
  });
});
