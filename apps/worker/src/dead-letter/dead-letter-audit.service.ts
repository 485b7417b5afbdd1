import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Channel, ConsumeMessage } from 'amqplib';
import {
  DEAD_LETTER_AUDIT_QUEUE,
  DEAD_LETTER_HEADERS,
  decodeWrites,
  shardQueueName,
  type DecodedWrite,
  type WriteFacts,
} from '@keyflow/contracts';
import { OperationRepository } from '@keyflow/db';
import { LEGACY_DELIVERY_LIMIT, settleDelivery, SupervisedChannel, WriteTopology } from '@keyflow/messaging';
import { OutcomeNotifier } from '../apply/outcome-notifier.service';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { AMQP } from '@keyflow/runtime';

interface DeadLetterHeaders {
  'x-first-death-reason'?: 'delivery_limit' | 'rejected' | 'expired' | 'maxlen';
  'x-first-death-queue'?: string;
  'x-delivery-count'?: number;
}

/**
 * Why the broker dead-lettered a message, in words an operator reads on the operation. `legacyQueues`: shard queues
 * still declared with `x-delivery-limit` by an older release (`WriteTopology`); the others have no limit of their
 * own, so a `delivery_limit` there comes from a policy an operator set.
 */
export function deadLetterReason(headers: DeadLetterHeaders, legacyQueues: ReadonlySet<string> = new Set()): string {
  const queue = headers['x-first-death-queue'] ?? 'its shard queue';
  switch (headers['x-first-death-reason']) {
    case 'delivery_limit':
      return legacyQueues.has(queue)
        ? `dead-lettered from ${queue}: delivered ${LEGACY_DELIVERY_LIMIT} times without being applied (x-delivery-limit)`
        : `dead-lettered from ${queue}: delivered more often than its delivery-limit policy allows, without being applied`;
    case 'rejected':
      return `dead-lettered from ${queue}: rejected by a worker`;
    case 'expired':
      return `dead-lettered from ${queue}: expired before it was applied`;
    case 'maxlen':
      return `dead-lettered from ${queue}: the queue was full`;
    case undefined:
      return `dead-lettered from ${queue}`;
  }
}

/**
 * Marks dead-lettered operations `failed`. The dead-letter exchange copies every dead letter into the audit
 * queue, whatever the reason; a worker that rejected a message already recorded a precise reason, and a
 * recorded outcome is never overwritten, so this mainly covers messages the broker gave up on by itself: on a shard
 * queue still declared with `x-delivery-limit` by an older release, or under a `delivery-limit` policy (the worker's
 * own limits are described in `ShardConsumer`).
 *
 * Recording also marks the operation as having a dead letter, even one that was applied before the broker gave up
 * on its message: retention keeps a marked record until `npm run dlq` removes the letter, because that record is
 * what stops a replay from applying the operation twice (`OperationRepository.recordFailed`).
 *
 * Its channel also declares the whole write topology, so a declaration the broker refuses shows here first:
 * it is logged and retried on a fresh channel (`SupervisedChannel`), and `start` waits until it succeeds.
 * A dead letter whose ack or requeue meets a closed channel is redelivered; recording it again is harmless.
 */
@Injectable()
export class DeadLetterAuditor implements BeforeApplicationShutdown {
  private readonly logger = new Logger(DeadLetterAuditor.name);
  private channel?: SupervisedChannel;
  private topology?: WriteTopology;
  /** How long a dead letter that could not be recorded waits before it is requeued. */
  static readonly RETRY_DELAY_MS = 1_000;

  constructor(
    @Inject(AMQP) private readonly connection: AmqpConnectionManager,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly operations: OperationRepository,
    private readonly notifier: OutcomeNotifier,
  ) {}

  async start(): Promise<void> {
    const topology = new WriteTopology(
      { shards: this.config.KV_SHARDS, replicas: this.config.QUEUE_REPLICAS },
      this.logger,
    );
    this.topology = topology;
    const supervised = new SupervisedChannel(this.connection, {
      name: 'dead-letter-audit',
      confirm: false,
      logger: this.logger,
      setup: async (channel: Channel) => {
        await topology.assertAll(channel);
        await channel.prefetch(50);
        await channel.consume(
          DEAD_LETTER_AUDIT_QUEUE,
          (m) => {
            if (m) void this.audit(channel, m);
            else supervised.reopen('the broker cancelled the consumer');
          },
          { noAck: false },
        );
      },
    });
    this.channel = supervised;
    await supervised.waitForConnect();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.channel?.close();
  }

  private async audit(channel: Channel, message: ConsumeMessage): Promise<void> {
    const headers = (message.properties.headers ?? {}) as DeadLetterHeaders & Record<string, unknown>;
    const legacy = new Set((this.topology?.legacyShards ?? []).map(shardQueueName));
    const workerReason = headers[DEAD_LETTER_HEADERS.reason];
    const reason =
      typeof workerReason === 'string' || Buffer.isBuffer(workerReason)
        ? String(workerReason)
        : deadLetterReason(headers, legacy);
    // A worker that rejected a write already told its waiting client; the broker's own dead letters did not.
    const told = headers[DEAD_LETTER_HEADERS.by] !== undefined || headers['x-first-death-reason'] === 'rejected';
    for (const op of writesOf(message.content)) {
      try {
        await this.operations.recordFailed(op, reason);
      } catch (err) {
        this.logger.warn(`could not record dead letter ${op.id}, will retry: ${(err as Error).message}`);
        // The channel may close within the delay; a throw from this timer would end the process.
        setTimeout(() => settleDelivery(channel, message, 'requeue', this.logger), DeadLetterAuditor.RETRY_DELAY_MS);
        return;
      }
      if (!told) {
        const { replyTo, ...write } = op;
        this.notifier.notify(replyTo ?? (message.properties.replyTo as string | undefined), {
          ...write,
          status: 'failed',
          error: reason,
        });
      }
    }
    // If the channel closed meanwhile, the message is redelivered and recorded again, harmlessly.
    settleDelivery(channel, message, 'ack', this.logger);
  }
}

/**
 * The writes of a dead letter, as far as they can be read: one for a single-write message, each write of a batch
 * message the broker dead-lettered whole; for a malformed write, what could be read of it (with a valid operation
 * id). Nothing for a letter that is not a write at all: there is nothing to record it against.
 */
interface LetterWrite {
  id: string;
  key: string;
  type: 'put' | 'delete';
  acceptedAt: string;
  owner?: string;
  replyTo?: string;
}

function writesOf(content: Buffer): LetterWrite[] {
  let writes: DecodedWrite[];
  try {
    writes = decodeWrites(content);
  } catch {
    return [];
  }
  return writes.flatMap((w): LetterWrite[] => {
    const facts: WriteFacts = w.ok ? { ...w.message, operationId: w.message.id } : w.error.details;
    if (!facts.operationId) return [];
    return [
      {
        id: facts.operationId,
        key: facts.key ?? '',
        type: facts.type === 'delete' ? 'delete' : 'put',
        acceptedAt: facts.acceptedAt ?? new Date().toISOString(),
        ...(w.ok && w.message.owner ? { owner: w.message.owner } : {}),
        ...(w.ok && w.replyTo ? { replyTo: w.replyTo } : {}),
      },
    ];
  });
}
