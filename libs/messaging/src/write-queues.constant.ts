import type { Channel, ConfirmChannel } from 'amqplib';
import { DEAD_LETTER_AUDIT_QUEUE, DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, shardQueueName } from '@keyflow/contracts';

/** Deliveries of one message before the broker dead-letters it. */
export const DEFAULT_DELIVERY_LIMIT = 5;

export interface WriteQueueOptions {
  /** Number of shard queues; fixed per deployment. */
  shards: number;
  /** Deliveries of one message before it is dead-lettered (a worker crashing on it counts). */
  deliveryLimit?: number;
  /** Quorum members per queue; 3 on a 3-node cluster. */
  replicas?: number;
}

/**
 * Queue arguments shared by publisher and consumer; RabbitMQ refuses a declaration whose arguments differ
 * from the existing queue's, so both sides must build them here.
 * - quorum: replicated to a majority before the publisher confirm, so a confirmed write survives a node loss;
 * - single-active-consumer: one worker applies a shard at a time, which is what gives per-key order;
 * - delivery limit + at-least-once dead-lettering: a message that keeps failing leaves the shard for the
 *   dead-letter exchange instead of blocking it, and is not lost on the way. The exchange fans out to the
 *   operators' queue and to the audit queue the workers read to mark the operation failed.
 */
export function shardQueueArguments(options: WriteQueueOptions): Record<string, unknown> {
  return {
    'x-queue-type': 'quorum',
    'x-single-active-consumer': true,
    'x-delivery-limit': options.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT,
    'x-dead-letter-exchange': DEAD_LETTER_EXCHANGE,
    'x-dead-letter-strategy': 'at-least-once',
    'x-overflow': 'reject-publish',
    'x-quorum-initial-group-size': options.replicas ?? 3,
  };
}

/** Declares one shard queue: what a shard's consumer channel needs, and nothing more. */
export async function assertShardQueue(
  channel: Channel | ConfirmChannel,
  shard: number,
  options: WriteQueueOptions,
): Promise<void> {
  await channel.assertQueue(shardQueueName(shard), { durable: true, arguments: shardQueueArguments(options) });
}

/** Declares the whole write topology: the dead-letter exchange and queues, then every shard queue. */
export async function assertWriteQueues(channel: Channel | ConfirmChannel, options: WriteQueueOptions): Promise<void> {
  const quorum = { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': options.replicas ?? 3 };
  await channel.assertExchange(DEAD_LETTER_EXCHANGE, 'fanout', { durable: true });
  for (const queue of [DEAD_LETTER_QUEUE, DEAD_LETTER_AUDIT_QUEUE]) {
    await channel.assertQueue(queue, { durable: true, arguments: quorum });
    await channel.bindQueue(queue, DEAD_LETTER_EXCHANGE, '');
  }
  for (let shard = 0; shard < options.shards; shard++) await assertShardQueue(channel, shard, options);
}
