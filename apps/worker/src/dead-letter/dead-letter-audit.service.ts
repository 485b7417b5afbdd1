import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { Channel, ConsumeMessage } from 'amqplib';
import { DEAD_LETTER_AUDIT_QUEUE } from '@keyflow/contracts';
import { OperationRepository } from '@keyflow/db';
import { assertWriteQueues, DEFAULT_DELIVERY_LIMIT } from '@keyflow/messaging';
import { OutcomeNotifier } from '../apply/outcome-notifier.service';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { AMQP } from '../infrastructure/infrastructure.tokens';

interface DeadLetterHeaders {
  'x-first-death-reason'?: 'delivery_limit' | 'rejected' | 'expired' | 'maxlen';
  'x-first-death-queue'?: string;
  'x-delivery-count'?: number;
}

/** Why the broker dead-lettered a message, in words an operator reads on the operation. */
export function deadLetterReason(headers: DeadLetterHeaders, deliveryLimit: number): string {
  const queue = headers['x-first-death-queue'] ?? 'its shard queue';
  switch (headers['x-first-death-reason']) {
    case 'delivery_limit':
      return `dead-lettered from ${queue}: delivered ${deliveryLimit} times without being applied (x-delivery-limit)`;
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
 * recorded outcome is never overwritten, so this mainly covers messages the broker gave up on after
 * `x-delivery-limit` deliveries (a message that crashed every worker that took it).
 */
@Injectable()
export class DeadLetterAuditor implements OnApplicationShutdown {
  private readonly logger = new Logger(DeadLetterAuditor.name);
  private channel?: ChannelWrapper;

  constructor(
    @Inject(AMQP) private readonly connection: AmqpConnectionManager,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly operations: OperationRepository,
    private readonly notifier: OutcomeNotifier,
  ) {}

  async start(): Promise<void> {
    this.channel = this.connection.createChannel({
      name: 'dead-letter-audit',
      confirm: false,
      setup: async (channel: Channel) => {
        await assertWriteQueues(channel, { shards: this.config.KV_SHARDS, replicas: this.config.QUEUE_REPLICAS });
        await channel.prefetch(50);
        await channel.consume(DEAD_LETTER_AUDIT_QUEUE, (m) => m && void this.audit(channel, m), { noAck: false });
      },
    });
    await this.channel.waitForConnect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.channel?.close().catch(() => undefined);
  }

  private async audit(channel: Channel, message: ConsumeMessage): Promise<void> {
    let body: { id?: unknown; key?: unknown; type?: unknown; acceptedAt?: unknown } = {};
    try {
      body = JSON.parse(message.content.toString('utf8')) as typeof body;
    } catch {
      // Not JSON: nothing to record it against.
    }
    const id = typeof body.id === 'string' && /^[0-9a-f-]{36}$/i.test(body.id) ? body.id : undefined;
    if (id) {
      const op = {
        id,
        key: typeof body.key === 'string' ? body.key : '',
        type: body.type === 'delete' ? ('delete' as const) : ('put' as const),
        acceptedAt:
          typeof body.acceptedAt === 'string' && !Number.isNaN(Date.parse(body.acceptedAt))
            ? body.acceptedAt
            : new Date().toISOString(),
      };
      const headers = (message.properties.headers ?? {}) as DeadLetterHeaders;
      const reason = deadLetterReason(headers, DEFAULT_DELIVERY_LIMIT);
      try {
        await this.operations.recordFailed(op, reason);
      } catch (err) {
        this.logger.warn(`could not record dead letter ${id}, will retry: ${(err as Error).message}`);
        setTimeout(() => channel.nack(message, false, true), 1_000);
        return;
      }
      // A worker that rejected the message already told the waiting client; the broker's own dead letters did not.
      if (headers['x-first-death-reason'] !== 'rejected') {
        this.notifier.notify(message.properties.replyTo as string | undefined, {
          ...op,
          status: 'failed',
          error: reason,
        });
      }
    }
    try {
      channel.ack(message);
    } catch {
      // The channel closed; the message will be redelivered and recorded again, harmlessly.
    }
  }
}
