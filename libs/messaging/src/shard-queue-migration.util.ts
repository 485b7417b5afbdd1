import { randomUUID } from 'node:crypto';
import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { shardQueueName } from '@keyflow/contracts';
import { MIGRATION_SENTINEL_HEADER, shardQueueArguments, type WriteQueueOptions } from './write-queues.constant';
import { isLegacyDeliveryLimitRefusal } from './write-topology.util';

export interface ShardQueueMigrationOptions extends WriteQueueOptions {
  log: (line: string) => void;
  /** How long the probe message may take to come back through an empty queue. */
  probeTimeoutMs?: number;
}

export type ShardQueueMigrationResult =
  { queue: string; outcome: 'current' | 'recreated' } | { queue: string; outcome: 'kept'; reason: string };

/**
 * Re-creates the shard queues a release before this one declared with `x-delivery-limit` (see `shardQueueArguments`
 * for why they no longer have it). A queue's arguments can never change, and a `delivery-limit` policy cannot help:
 * RabbitMQ applies the smaller of argument and policy. So the queue is deleted and declared again.
 *
 * Deleting a queue deletes what it holds, so a queue is re-created only when it is provably empty and unused:
 * - it has no consumer (no worker runs: with single-active-consumer a worker would also take the probe below);
 * - the broker reports no ready message, and a probe message sent through it comes back first. The report alone is
 *   not proof: a quorum queue whose leader does not answer within 250 ms reports 0. The probe carries
 *   `MIGRATION_SENTINEL_HEADER`; a worker that gets one anyway acks it and does nothing else.
 * Any other queue is kept as it is (`WriteTopology` keeps using it) and reported, to be re-created by a later run
 * once the workers have drained it. Nothing is ever moved between queues, so order is never at stake.
 *
 * Run it with the APIs stopped: a write published between the probe's return and the re-declaration (milliseconds)
 * would be routed nowhere. The local stack runs it (`apps/worker/src/migrate.ts`) before it starts the apps.
 * Idempotent: a current queue is left alone, a missing one is declared.
 */
export async function migrateShardQueues(
  connection: Pick<ChannelModel, 'createConfirmChannel'>,
  options: ShardQueueMigrationOptions,
): Promise<ShardQueueMigrationResult[]> {
  const results: ShardQueueMigrationResult[] = [];
  for (let shard = 0; shard < options.shards; shard++) {
    const queue = shardQueueName(shard);
    const result = await migrateOne(connection, queue, options);
    if (result.outcome === 'recreated') options.log(`${queue}: re-created without x-delivery-limit`);
    if (result.outcome === 'kept')
      options.log(`${queue}: kept as it is (x-delivery-limit still set): ${result.reason}`);
    results.push(result);
  }
  return results;
}

async function migrateOne(
  connection: Pick<ChannelModel, 'createConfirmChannel'>,
  queue: string,
  options: ShardQueueMigrationOptions,
): Promise<ShardQueueMigrationResult> {
  if (!(await isLegacy(connection, queue, options))) return { queue, outcome: 'current' };
  const channel = await openChannel(connection);
  try {
    const { messageCount, consumerCount } = await channel.checkQueue(queue);
    if (consumerCount > 0) return { queue, outcome: 'kept', reason: `${consumerCount} consumer(s): stop the workers` };
    if (messageCount > 0) {
      return { queue, outcome: 'kept', reason: `${messageCount} write(s) queued: let the workers apply them first` };
    }
    if (!(await probeComesBackFirst(channel, queue, options.probeTimeoutMs ?? 10_000))) {
      return { queue, outcome: 'kept', reason: 'not provably empty and unused (the probe did not come back first)' };
    }
    await channel.deleteQueue(queue);
    await channel.assertQueue(queue, { durable: true, arguments: shardQueueArguments(options) });
    return { queue, outcome: 'recreated' };
  } finally {
    await channel.close().catch(() => undefined);
  }
}

/** Declares the queue as this release does: refused for an `x-delivery-limit` means legacy (and closes the channel). */
async function isLegacy(
  connection: Pick<ChannelModel, 'createConfirmChannel'>,
  queue: string,
  options: WriteQueueOptions,
): Promise<boolean> {
  const channel = await openChannel(connection);
  try {
    await channel.assertQueue(queue, { durable: true, arguments: shardQueueArguments(options) });
    return false;
  } catch (err) {
    if (isLegacyDeliveryLimitRefusal(err)) return true;
    throw err;
  } finally {
    await channel.close().catch(() => undefined);
  }
}

async function openChannel(connection: Pick<ChannelModel, 'createConfirmChannel'>): Promise<ConfirmChannel> {
  const channel = await connection.createConfirmChannel();
  // A refused declaration closes the channel with an `error`; unheard, amqplib would drop the connection.
  channel.on('error', () => undefined);
  return channel;
}

/**
 * Sends a probe through the queue and consumes: true when the first delivery is the probe (everything published
 * before it has been consumed, so the queue was empty), false when a write comes first or nothing within the
 * timeout (another consumer is active). A write received here goes back to the queue when the channel closes.
 */
async function probeComesBackFirst(channel: ConfirmChannel, queue: string, timeoutMs: number): Promise<boolean> {
  const id = randomUUID();
  channel.sendToQueue(queue, Buffer.alloc(0), { headers: { [MIGRATION_SENTINEL_HEADER]: id } });
  await channel.waitForConfirms();
  await channel.prefetch(1);
  let consumerTag: string | undefined;
  const first = await new Promise<ConsumeMessage | null | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    channel
      .consume(
        queue,
        (message) => {
          clearTimeout(timer);
          resolve(message);
        },
        { noAck: false },
      )
      .then(
        (reply) => (consumerTag = reply.consumerTag),
        () => resolve(undefined),
      );
  });
  const isProbe = first?.properties.headers?.[MIGRATION_SENTINEL_HEADER] === id;
  if (first && isProbe) channel.ack(first);
  if (consumerTag) await channel.cancel(consumerTag).catch(() => undefined);
  return isProbe;
}
