import { Logger } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { decodeWrites, DomainError, shardQueueName, type DecodedWrite, type WriteMessage } from '@keyflow/contracts';
import type { AppliedOp } from '@keyflow/db';
import {
  MIGRATION_SENTINEL_HEADER,
  settleDelivery,
  SupervisedChannel,
  WriteTopology,
  type WriteQueueOptions,
} from '@keyflow/messaging';
import type { ApplySlots } from './apply-slots';
import { changesOf, type ChangePublisher } from './change-publisher';
import type { DeadLetterPublisher } from './dead-letter-publisher';
import { backoffDelay, sleep } from './backoff.util';
import type { WorkerMetrics } from '../metrics/worker-metrics.service';
import type { OutcomeNotifier } from './outcome-notifier.service';
import type { WriteApplier } from './write-applier.service';

export interface ShardConsumerOptions extends WriteQueueOptions {
  shard: number;
  prefetch: number;
  /** Most writes in one batch (a delivery is never split: one larger than this is a batch alone). */
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
  channel: ConfirmChannel;
  /** Its writes (one for a version 1 message, many for a batch), or why the message as a whole is unreadable. */
  writes: DecodedWrite[] | Error;
  /** Its writes not settled yet; it is acked when none is left. */
  open: number;
}

/** One write of a delivery, on its way to the database. */
interface Item {
  delivery: Delivery;
  write: WriteMessage;
  replyTo?: string;
  text: string;
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
 * - applied (or already applied before a redelivery): ack, after the DB commit, the cache update, and the broker's
 *   confirm of the batch's changes in the change stream (`ChangePublisher`: published on this consumer's channel, a
 *   confirm channel, so that a worker that lost the shard cannot publish after the one that took over). A write
 *   found applied by an earlier delivery is published again (marked `redo`): that delivery's worker may have died
 *   before it published. A conflict or a dead-lettered write changes nothing and publishes nothing;
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
  /** The amqplib channel deliveries come from (and changes are published on), while it is open. */
  private current?: ConfirmChannel;
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
    private readonly deadLetters: DeadLetterPublisher,
    private readonly changes: Pick<ChangePublisher, 'publish'>,
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
      // Its deliveries' changes are published on it (see `ChangePublisher`).
      confirm: true,
      logger: this.logger,
      setup: async (plain: Channel) => {
        const channel = plain as ConfirmChannel;
        this.current = channel;
        // From its close on, the batch in flight stops retrying and nothing more is acked on it.
        channel.once('close', () => {
          if (this.current === channel) this.current = undefined;
        });
        // Deliveries from a previous (closed) channel can no longer be acked; the broker will redeliver them.
        this.buffer = this.buffer.filter((d) => d.channel === channel);
        // The whole topology is declared once per connection (DeadLetterAuditor); here only this shard's queue.
        await this.topology.assertShard(channel, this.options.shard);
        await this.topology.assertChangeStream(channel);
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

  private receive({ message, channel }: Pick<Delivery, 'message' | 'channel'>): void {
    if (this.stopping) return;
    this.stats.lastDeliveryAt = new Date().toISOString();
    let writes: Delivery['writes'];
    try {
      writes = message.properties.headers?.[MIGRATION_SENTINEL_HEADER] ? [] : decodeWrites(message.content);
    } catch (err) {
      writes = err instanceof Error ? err : new Error(String(err));
    }
    this.buffer.push({ message, channel, writes, open: Array.isArray(writes) ? writes.length : 0 });
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
        if (!this.stopping) await this.process(this.takeBatch());
      });
    }
  }

  /** The next deliveries, in order, up to `batchMax` writes (at least one delivery, however many writes it has). */
  private takeBatch(): Delivery[] {
    let writes = 0;
    let count = 0;
    for (const delivery of this.buffer) {
      const size = Array.isArray(delivery.writes) ? delivery.writes.length : 1;
      if (count > 0 && writes + size > this.options.batchMax) break;
      writes += size;
      count += 1;
    }
    return this.buffer.splice(0, count);
  }

  private async process(batch: Delivery[]): Promise<void> {
    let pending: Item[] = [];
    for (const delivery of batch) {
      const { message, writes } = delivery;
      if (writes instanceof Error) {
        // Not even its writes can be read: the broker dead-letters the message as it is.
        this.deadLetterDelivery(delivery, writes.message);
        continue;
      }
      const deliveries = previousDeliveries(message) + 1;
      const unattempted =
        deliveries >= this.options.maxDeliveries
          ? `delivered ${deliveries} times without an outcome (its worker stopped or lost its connection each time); ` +
            'dead-lettered unattempted, in case it is what stops them'
          : undefined;
      for (const decoded of writes) {
        if (!decoded.ok) {
          // NonRetryableWriteError: malformed, or a value that cannot be stored as sent. Dead-lettered before the
          // batch reaches the database, so it never splits the batch.
          const { text, requestId } = decoded;
          await this.deadLetter(
            { delivery, text, ...(requestId ? { requestId } : {}) },
            decoded.error.message,
            decoded.error,
          );
        } else if (unattempted) {
          await this.deadLetter({ delivery, ...decoded, write: decoded.message }, unattempted);
        } else {
          pending.push({ delivery, write: decoded.message, text: decoded.text, replyTo: decoded.replyTo });
        }
      }
    }
    this.ackSettled(batch);

    for (let attempt = 1; pending.length > 0; attempt++) {
      if (!this.isOpen(pending[0]?.delivery.channel)) return;
      const endBatch = this.metrics.batchSeconds.startTimer();
      try {
        const outcome = await this.applier.applyToDatabase(pending.map((v) => v.write));
        const channel = pending[0]?.delivery.channel;
        await this.retryTransient('cache update', channel, () => this.applier.updateCache(outcome.entries));
        const changes = changesOf(
          outcome.applied,
          pending.map((v) => v.write),
        );
        let tries = 0;
        await this.retryTransient('publishing changes', channel, async () => {
          if (!channel || !this.isOpen(channel))
            throw new Error('the channel closed before its changes were published');
          await this.changes.publish(channel, changes, tries++ > 0);
        });
        const rejected = new Map(outcome.rejected.map((r) => [r.message.id, r.reason]));
        // Writes handed back to retry come after every settled one (`ApplyOutcome.retry`).
        const retry = new Set(outcome.retry.map((m) => m.id));
        for (const item of pending) {
          const reason = rejected.get(item.write.id);
          if (reason !== undefined) await this.deadLetter(item, reason);
          else if (!retry.has(item.write.id)) item.delivery.open -= 1;
        }
        const byId = new Map(pending.map((v) => [v.write.id, v]));
        for (const a of outcome.applied) {
          const item = byId.get(a.id);
          this.notifier.notify(item?.replyTo ?? this.replyQueueOf(item?.delivery), {
            id: a.id,
            key: a.key,
            type: a.type,
            status: a.status,
            version: a.version,
            created: a.created,
          });
          this.logOutcome(a, item?.write.requestId);
        }
        this.ackSettled(batch);
        const settled = pending.length - retry.size - rejected.size;
        this.stats.applied += outcome.applied.filter((a) => !a.duplicate).length;
        endBatch();
        this.metrics.batchSize.observe(settled);
        for (const a of outcome.applied) this.metrics.writes.inc({ status: a.duplicate ? 'duplicate' : a.status });
        this.stats.batches += 1;
        this.stats.lastBatchSize = settled;
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

  /**
   * One info line per settled write (committed: applied, a conflict, or found applied by an earlier delivery), with
   * the id of the HTTP request that made it when its message carries one: how `npm run logs -- --request <id>` finds
   * the worker's part of a request, next to the gateway's and the API's lines. Flat fields only, never the value: a line
   * costs about 10 µs (Nest's logger over pino, written to stdout), against about 250 µs of worker CPU per write.
   */
  private logOutcome(op: AppliedOp, requestId: string | undefined): void {
    this.logger.log(
      {
        ...(requestId ? { requestId } : {}),
        operationId: op.id,
        key: op.key,
        type: op.type,
        status: op.status,
        version: op.version,
        shard: this.options.shard,
        ...(op.duplicate ? { duplicate: true } : {}),
        ...(op.cause ? { cause: op.cause } : {}),
      },
      op.duplicate ? 'write already applied' : op.status === 'applied' ? 'write applied' : 'write conflict',
    );
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

  /** A version 1 message names its waiting client in the AMQP `replyTo` property; a batch names it per write. */
  private replyQueueOf(delivery: Delivery | undefined): string | undefined {
    return delivery?.message.properties.replyTo as string | undefined;
  }

  /**
   * Acks the deliveries of `batch` whose writes are all settled and that are not acked yet. Those before the first
   * unsettled one go with one `multiple` ack on the last of them (the channel carries only this shard, and every
   * earlier delivery is settled); any after it, one by one.
   */
  private ackSettled(batch: Delivery[]): void {
    let prefix: Delivery | undefined;
    let gap = false;
    for (const delivery of batch) {
      if (delivery.open < 0) continue; // acked or dead-lettered already
      if (delivery.open > 0) {
        gap = true;
        continue;
      }
      delivery.open = -1;
      if (!gap) prefix = delivery;
      else if (this.isOpen(delivery.channel)) settleDelivery(delivery.channel, delivery.message, 'ack', this.logger);
    }
    if (prefix && this.isOpen(prefix.channel)) settleDelivery(prefix.channel, prefix.message, 'ack-up-to', this.logger);
  }

  /** A message whose writes cannot be read at all: the broker dead-letters it whole (nack without requeue). */
  private deadLetterDelivery(delivery: Delivery, reason: string): void {
    this.stats.deadLettered += 1;
    this.metrics.writes.inc({ status: 'dead_lettered' });
    this.logger.warn(`dead-lettering an unreadable message: ${reason}`);
    delivery.open = -1;
    if (this.isOpen(delivery.channel)) settleDelivery(delivery.channel, delivery.message, 'dead-letter', this.logger);
  }

  /**
   * Dead-letters one write alone, never its batch-mates: publishes it to the dead-letter exchange as a version 1
   * message (its own line), and once the broker confirmed that, records the operation failed and tells a waiting
   * client. Its delivery is acked when its other writes are settled too. A letter the broker does not confirm is
   * retried for as long as the delivery's channel is open; if the channel closes, the delivery comes back whole and
   * this write is decided again.
   */
  private async deadLetter(
    item: Pick<Item, 'delivery' | 'text'> & Partial<Pick<Item, 'write' | 'replyTo'>> & { requestId?: string },
    reason: string,
    err?: unknown,
  ): Promise<void> {
    const { delivery } = item;
    const replyTo = item.replyTo ?? this.replyQueueOf(delivery);
    await this.retryTransient('publishing a dead letter', delivery.channel, () =>
      this.deadLetters.publish({ text: item.text, queue: this.queue, reason, ...(replyTo ? { replyTo } : {}) }),
    ).catch(() => undefined);
    if (!this.isOpen(delivery.channel)) return;
    delivery.open -= 1;
    this.stats.deadLettered += 1;
    this.metrics.writes.inc({ status: 'dead_lettered' });
    const facts = err instanceof DomainError ? err.details : {};
    const operationId = item.write?.id ?? facts.operationId;
    const requestId = item.write?.requestId ?? item.requestId;
    const key = item.write?.key ?? facts.key;
    this.logger.warn(
      {
        ...(requestId ? { requestId } : {}),
        ...(operationId ? { operationId } : {}),
        ...(key !== undefined ? { key } : {}),
        status: 'dead-lettered',
        shard: this.options.shard,
      },
      `dead-lettering a write: ${reason}`,
    );
    if (!operationId) return;
    // A malformed write is recorded with what could be read of it (an unknown type is recorded as put).
    const known = item.write ?? {
      id: operationId,
      key: facts.key ?? '',
      type: facts.type ?? 'put',
      acceptedAt: facts.acceptedAt ?? new Date().toISOString(),
    };
    await this.applier
      .recordFailed(known, reason)
      .catch((e: Error) => this.logger.warn(`could not record the failure: ${e.message}`));
    this.notifier.notify(replyTo, { id: known.id, key: known.key, type: known.type, status: 'failed', error: reason });
  }
}
