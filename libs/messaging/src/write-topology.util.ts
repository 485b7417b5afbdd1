import type { Channel, ConfirmChannel } from 'amqplib';
import {
  CHANGE_STREAM,
  DEAD_LETTER_AUDIT_QUEUE,
  DEAD_LETTER_EXCHANGE,
  DEAD_LETTER_QUEUE,
  shardQueueName,
} from '@keyflow/contracts';
import type { ConnectionLogger } from './amqp-connection.util';
import {
  changeStreamArguments,
  deadLetterQueueArguments,
  LEGACY_DELIVERY_LIMIT,
  shardQueueArguments,
  type WriteQueueOptions,
} from './write-queues.constant';

/** The broker refused a shard queue declaration because the queue has an `x-delivery-limit` we no longer declare. */
export function isLegacyDeliveryLimitRefusal(err: unknown): boolean {
  return err instanceof Error && err.message.includes("inequivalent arg 'x-delivery-limit'");
}

/**
 * Declares the write topology — the dead-letter exchange and queues, and the shard queues with
 * `shardQueueArguments` — on a channel's setup. Publisher, consumers and the dead-letter auditor all declare
 * through it, so their arguments always match.
 *
 * Legacy shard queues. Queues declared by a release before this one carry `x-delivery-limit` 5, and a queue's
 * arguments can never change: declaring them without it is refused (406 PRECONDITION_FAILED, which also closes the
 * channel). Rather than stop the write path until they are re-created, the topology then takes every shard queue as
 * it is: it logs once, and from the next setup on (the `SupervisedChannel` re-opens the channel) it only checks that
 * they exist (`checkQueue`, which compares no arguments). One refused declaration thus costs one re-opened channel,
 * not one per queue. A queue that turns out to be missing is declared on the attempt after. Until they are
 * re-created (`migrateShardQueues`, run by the worker's migrate step), the broker still dead-letters a message
 * returned more than 5 times, restarts included.
 *
 * One instance per channel owner: it remembers the legacy queues across that channel's setups.
 */
export class WriteTopology {
  /** Shard queues used as they are: checked, not declared. */
  private readonly legacy = new Set<number>();
  private reported = false;

  constructor(
    private readonly options: WriteQueueOptions,
    private readonly logger: Pick<ConnectionLogger, 'warn'>,
  ) {}

  /** Shard queues this process found declared by an older release (for status pages and tests). */
  get legacyShards(): number[] {
    return [...this.legacy].sort((a, b) => a - b);
  }

  /** Declares everything: the dead-letter exchange and its two queues, the change stream, then every shard queue. */
  async assertAll(channel: Channel | ConfirmChannel): Promise<void> {
    await channel.assertExchange(DEAD_LETTER_EXCHANGE, 'fanout', { durable: true });
    for (const queue of [DEAD_LETTER_QUEUE, DEAD_LETTER_AUDIT_QUEUE]) {
      await channel.assertQueue(queue, { durable: true, arguments: deadLetterQueueArguments(this.options) });
      await channel.bindQueue(queue, DEAD_LETTER_EXCHANGE, '');
    }
    await this.assertChangeStream(channel);
    for (let shard = 0; shard < this.options.shards; shard++) await this.assertShard(channel, shard);
  }

  /**
   * Declares the change stream. A shard's consumer channel declares it too, on every setup, before it consumes: it
   * publishes its changes there through the default exchange, which drops (and confirms) a message to a queue that
   * does not exist.
   */
  async assertChangeStream(channel: Channel | ConfirmChannel): Promise<void> {
    await channel.assertQueue(CHANGE_STREAM, { durable: true, arguments: changeStreamArguments(this.options) });
  }

  /** Declares one shard queue: what a shard's consumer channel needs, and nothing more. */
  async assertShard(channel: Channel | ConfirmChannel, shard: number): Promise<void> {
    const queue = shardQueueName(shard);
    if (this.legacy.has(shard)) {
      try {
        await channel.checkQueue(queue);
        return;
      } catch (err) {
        // Gone (deleted, or being re-created by the migration): declare it on the next attempt.
        this.legacy.delete(shard);
        throw err;
      }
    }
    try {
      await channel.assertQueue(queue, { durable: true, arguments: shardQueueArguments(this.options) });
    } catch (err) {
      if (!isLegacyDeliveryLimitRefusal(err)) throw err;
      // One release declared them all: take them all as they are, so the next setup needs no further refusal.
      for (let s = 0; s < this.options.shards; s++) this.legacy.add(s);
      if (!this.reported) {
        this.reported = true;
        this.logger.warn(
          `${queue} was declared by an older keyflow with x-delivery-limit ${LEGACY_DELIVERY_LIMIT}: using the shard ` +
            'queues as they are. Until they are re-created (the worker migrate step does it while they are empty and ' +
            `unused), the broker dead-letters a write returned to its queue more than ${LEGACY_DELIVERY_LIMIT} times, ` +
            'worker restarts included',
        );
      }
      throw err;
    }
  }
}
