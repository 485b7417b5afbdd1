import { Logger } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Channel, ConsumeMessage } from 'amqplib';
import { decodeWriteMessage, DomainError, shardQueueName, type WriteMessage } from '@keyflow/contracts';
import {
  MIGRATION_SENTINEL_HEADER,
  settleDelivery,
  SupervisedChannel,
  WriteTopology,
  type WriteQueueOptions,
} from '@keyflow/messaging';
import type { ApplySlots } from './apply-slots';
import { backoffDelay, sleep } from './backoff.util';
import type { WorkerMetrics } from '../metrics/worker-metrics.service';
import type { OutcomeNotifier } from './outcome-notifier.service';
import type { WriteApplier } from './write-applier.service';

export interface ShardConsumerOptions extends WriteQueueOptions {
  shard: number;
  prefetch: number;
  batchMax: number;
  /** A delivery the broker has handed out this often without an outcome is dead-lettered unread (`MAX_DELIVERIES`). */
  maxDeliveries: number;
  /** Shared by the worker's shards: bounds how many batches are in a DB transaction at once. */
  slots: ApplySlots;
  /** Shared by the worker's shards, so that legacy shard queues are found (and logged) once; its own if not given. */
  topology?: WriteTopology;
}

interface Delivery {
  message: ConsumeMessage;
  channel: Channel;
}

/**
 * How often the broker has handed this message out before, unsettled: quorum queues say so in `x-delivery-count`
 * (RabbitMQ 3.x counts every return; 4.3 counts failed deliveries there and every delivery in `x-acquired-count`).
 */
function previousDeliveries(message: ConsumeMessage): number {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const counts = [headers['x-delivery-count'], headers['x-acquired-count']].map(Number).filter(Number.isFinite);
  return Math.max(0, ...counts);
}

export interface ShardStats {
  shard: number;
  consuming: boolean;
  applied: number;
  batches: number;
  lastBatchSize: number;
  deadLettered: number;
  lastDeliveryAt?: string;
}

/**
 * Consumes one shard queue. The queue is single-active-consumer, so while this consumer is active no other
 * worker applies the shard, and messages are applied strictly in delivery order: one batch at a time, the
 * next batch only after the previous one is committed, cached and acknowledged.
 *
 * The batch is whatever arrived while the previous batch was being applied and while the shard waited for an
 * apply slot (up to `batchMax`): under light load batches are single messages and latency is lowest; under
 * heavy load they grow, and one transaction carries many writes. That is the adaptive batching.
 *
 * Acknowledgement contract:
 * - applied (or already applied before a redelivery): ack, after the DB commit and the cache update;
 * - transient failure (DB or Redis down): nothing is acked; the batch is retried with backoff for as long as
 *   the channel it came from is open. If the channel closes, the broker redelivers the messages (possibly to
 *   another worker), and idempotency by operation id makes the repeat harmless.
 * - dead-lettered (nack without requeue, `settleDelivery(…, 'dead-letter')`), alone, the rest of the batch going on:
 *   - a write that can never be applied (`NonRetryableWriteError`): malformed, or a value keyflow cannot store as
 *     sent, found when decoding, before the batch reaches the database (so it never splits the batch); or one the
 *     database refuses for good;
 *   - a write whose application really failed `MAX_APPLY_ATTEMPTS` times (`WriteApplier`, counted per operation id
 *     across restarts). Until then the writes before it are acked and it is retried, with those after it, after a
 *     backoff;
 *   - safety net: a delivery the broker has already handed out `maxDeliveries` times without an outcome, unread. A
 *     write that crashes the worker (or hangs it until it is killed) is never seen failing, and without this would
 *     stop its shard for good.
 * Poison detection is ours, not the broker's. A restart, a shard hand-over or a lost connection returns the whole
 * unacked prefetch (up to `prefetch` writes, most never attempted) to the queue, and the broker counts that as a
 * delivery of each; its count is therefore used only for the safety net, set far above what restarts reach, and the
 * shard queues carry no `x-delivery-limit` (see `shardQueueArguments`).
 * An ack or nack that meets a closed channel is logged and dropped (`settleDelivery`): the broker redelivers.
 * The channel is a `SupervisedChannel`: a shard queue the broker will not declare or consume (a quorum queue
 * without a leader, say) is logged and retried on a fresh channel; it never ends the process.
 */
export class ShardConsumer {
  private readonly logger: Logger;
  private readonly queue: string;
  private channel?: SupervisedChannel;
  /** The amqplib channel deliveries come from, while it is open. */
  private current?: Channel;
  private buffer: Delivery[] = [];
  private draining?: Promise<void>;
  private stopping = false;
  private readonly stats: ShardStats;
  private readonly topology: WriteTopology;

  constructor(
    private readonly connection: AmqpConnectionManager,
    private readonly applier: WriteApplier,
    private readonly notifier: OutcomeNotifier,
    private readonly metrics: WorkerMetrics,
    private readonly options: ShardConsumerOptions,
  ) {
    this.queue = shardQueueName(options.shard);
    this.logger = new Logger(`Shard ${options.shard}`);
    this.stats = { shard: options.shard, consuming: false, applied: 0, batches: 0, lastBatchSize: 0, deadLettered: 0 };
    this.topology = options.topology ?? new WriteTopology(options, this.logger);
  }

  get consuming(): boolean {
    return this.channel !== undefined;
  }

  snapshot(): ShardStats {
    return { ...this.stats, consuming: this.consuming };
  }

  /** Registers as a consumer: active at once if no other worker holds the shard, standby otherwise. */
  async start(): Promise<void> {
    if (this.channel) return;
    this.stopping = false;
    const supervised = new SupervisedChannel(this.connection, {
      name: `${this.queue}-consumer`,
      confirm: false,
      logger: this.logger,
      setup: async (channel: Channel) => {
        this.current = channel;
        // From its close on, the batch in flight stops retrying and nothing more is acked on it.
        channel.once('close', () => {
          if (this.current === channel) this.current = undefined;
        });
        // Deliveries from a previous (closed) channel can no longer be acked; the broker will redeliver them.
        this.buffer = this.buffer.filter((d) => d.channel === channel);
        // The whole topology is declared once per connection (DeadLetterAuditor); here only this shard's queue.
        await this.topology.assertShard(channel, this.options.shard);
        await channel.prefetch(this.options.prefetch);
        await channel.consume(
          this.queue,
          (message) => {
            if (message) this.receive({ message, channel });
            // The broker cancelled the consumer (the queue was deleted, say): register again on a fresh channel.
            else supervised.reopen('the broker cancelled the consumer');
          },
          { noAck: false },
        );
      },
    });
    this.channel = supervised;
    await supervised.waitForConnect();
  }

  /**
   * Stops consuming: finishes (commits, caches, acks) the batch in flight, then closes the channel, which
   * hands every prefetched but unprocessed message back to the queue in order, for the next consumer.
   */
  async stop(): Promise<void> {
    const channel = this.channel;
    if (!channel) return;
    this.stopping = true;
    await this.draining;
    this.channel = undefined;
    this.current = undefined;
    this.buffer = [];
    await channel.close();
  }

  private receive(delivery: Delivery): void {
    if (this.stopping) return;
    this.stats.lastDeliveryAt = new Date().toISOString();
    this.buffer.push(delivery);
    this.draining ??= this.drain()
      // Not expected (process() handles its failures), but a rejection here must not end the process; the
      // deliveries left unacked come back from the broker when the channel closes.
      .catch((err: unknown) => this.logger.error(`draining the shard failed: ${(err as Error).message}`))
      .finally(() => {
        this.draining = undefined;
      });
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0 && !this.stopping) {
      // The batch is taken only once this shard holds one of the worker's apply slots, so whatever arrived
      // while it waited joins the batch. The slot is held until the batch is settled (retries included).
      await this.options.slots.run(async () => {
        if (!this.stopping) await this.process(this.buffer.splice(0, this.options.batchMax));
      });
    }
  }

  private async process(batch: Delivery[]): Promise<void> {
    let pending: Array<{ delivery: Delivery; write: WriteMessage }> = [];
    for (const delivery of batch) {
      const { message } = delivery;
      if (message.properties.headers?.[MIGRATION_SENTINEL_HEADER]) {
        // The queue migration's probe (`migrateShardQueues`), not a write.
        if (this.isOpen(delivery.channel)) settleDelivery(delivery.channel, message, 'ack', this.logger);
        continue;
      }
      let write: WriteMessage;
      try {
        write = decodeWriteMessage(message.content);
      } catch (err) {
        // NonRetryableWriteError: malformed, or a value that cannot be stored as sent. Dead-lettered before the
        // batch reaches the database, so it never splits the batch.
        await this.deadLetter(delivery, err instanceof Error ? err.message : String(err), err);
        continue;
      }
      const deliveries = previousDeliveries(message) + 1;
      if (deliveries >= this.options.maxDeliveries) {
        const reason =
          `delivered ${deliveries} times without an outcome (its worker stopped or lost its connection each time); ` +
          'dead-lettered unattempted, in case it is what stops them';
        await this.deadLetter(delivery, reason, undefined, write);
        continue;
      }
      pending.push({ delivery, write });
    }

    for (let attempt = 1; pending.length > 0; attempt++) {
      if (!this.isOpen(pending[0]?.delivery.channel)) return;
      const endBatch = this.metrics.batchSeconds.startTimer();
      try {
        const outcome = await this.applier.applyToDatabase(pending.map((v) => v.write));
        await this.retryTransient('cache update', pending[0]?.delivery.channel, () =>
          this.applier.updateCache(outcome.entries),
        );
        const rejected = new Set(outcome.rejected.map((r) => r.message.id));
        for (const r of outcome.rejected) {
          const delivery = pending.find((v) => v.write.id === r.message.id)?.delivery;
          if (delivery) await this.deadLetter(delivery, r.reason, undefined, r.message);
        }
        // Writes handed back to retry come after every settled one (`ApplyOutcome.retry`), so acking the settled
        // ones (with `multiple` up to the last) never acks one of them.
        const retry = new Set(outcome.retry.map((m) => m.id));
        const settled = pending.filter((v) => !rejected.has(v.write.id) && !retry.has(v.write.id));
        this.ack(
          settled.map((v) => v.delivery),
          rejected.size === 0,
        );
        const replyTo = new Map(
          pending.map((v) => [v.write.id, v.delivery.message.properties.replyTo as string | undefined]),
        );
        for (const a of outcome.applied) {
          this.notifier.notify(replyTo.get(a.id), {
            id: a.id,
            key: a.key,
            type: a.type,
            status: a.status,
            version: a.version,
            created: a.created,
          });
        }
        this.stats.applied += outcome.applied.filter((a) => !a.duplicate).length;
        endBatch();
        this.metrics.batchSize.observe(settled.length);
        for (const a of outcome.applied) this.metrics.writes.inc({ status: a.duplicate ? 'duplicate' : a.status });
        this.stats.batches += 1;
        this.stats.lastBatchSize = settled.length;
        pending = pending.filter((v) => retry.has(v.write.id));
        // A write whose attempt failed is retried after a backoff, like a transient failure.
        if (pending.length > 0) await sleep(backoffDelay(attempt));
      } catch (err) {
        const delay = backoffDelay(attempt);
        if (attempt === 1 || attempt % 10 === 0) {
          this.logger.warn(
            `applying ${pending.length} write(s) failed (attempt ${attempt}), retrying: ${(err as Error).message}`,
          );
        }
        await sleep(delay);
      }
    }
  }

  private async retryTransient(what: string, channel: Channel | undefined, work: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        if (!this.isOpen(channel)) throw err;
        if (attempt === 1 || attempt % 10 === 0)
          this.logger.warn(`${what} failed (attempt ${attempt}), retrying: ${(err as Error).message}`);
        await sleep(backoffDelay(attempt));
      }
    }
  }

  private isOpen(channel: Channel | undefined): boolean {
    return channel !== undefined && channel === this.current;
  }

  /**
   * Acks a batch. With nothing rejected in between, one `multiple` ack on the last delivery covers the whole
   * batch: the channel carries only this shard, and every earlier delivery is already settled.
   */
  private ack(deliveries: Delivery[], contiguous: boolean): void {
    const last = deliveries.at(-1);
    if (!last || !this.isOpen(last.channel)) return;
    if (contiguous) settleDelivery(last.channel, last.message, 'ack-up-to', this.logger);
    else for (const d of deliveries) if (!settleDelivery(d.channel, d.message, 'ack', this.logger)) break;
  }

  private async deadLetter(delivery: Delivery, reason: string, err?: unknown, message?: WriteMessage): Promise<void> {
    this.stats.deadLettered += 1;
    this.metrics.writes.inc({ status: 'dead_lettered' });
    this.logger.warn(`dead-lettering a message: ${reason}`);
    const facts = err instanceof DomainError ? err.details : {};
    const operationId = message?.id ?? facts.operationId;
    if (operationId) {
      // A malformed message is recorded with what could be read from it (an unknown type is recorded as put).
      const known = message ?? {
        id: operationId,
        key: facts.key ?? '',
        type: facts.type ?? 'put',
        acceptedAt: facts.acceptedAt ?? new Date().toISOString(),
      };
      await this.applier
        .recordFailed(known, reason)
        .catch((e: Error) => this.logger.warn(`could not record the failure: ${e.message}`));
      this.notifier.notify(delivery.message.properties.replyTo as string | undefined, {
        id: known.id,
        key: known.key,
        type: known.type,
        status: 'failed',
        error: reason,
      });
    }
    if (!this.isOpen(delivery.channel)) return;
    settleDelivery(delivery.channel, delivery.message, 'dead-letter', this.logger);
  }
}
