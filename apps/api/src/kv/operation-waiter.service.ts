import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Channel } from 'amqplib';
import type { WriteOutcome } from '@keyflow/contracts';
import { SupervisedChannel } from '@keyflow/messaging';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { AMQP } from '@keyflow/runtime';

/**
 * Waits for write outcomes without polling: this instance owns a private reply queue, writes that wait
 * (`Prefer: wait`) carry its name as `replyTo`, and the worker that applies one sends the outcome there.
 * The queue is exclusive and auto-deleted: it lives exactly as long as this instance's connection.
 * After a reconnect the broker may still hold the old connection's queue for a moment and refuse the
 * declaration (405 RESOURCE_LOCKED): the channel logs it and retries (`SupervisedChannel`); waiters time
 * out meanwhile and answer from the operation record.
 */
@Injectable()
export class OperationWaiter implements BeforeApplicationShutdown {
  private readonly logger = new Logger(OperationWaiter.name);
  private readonly waiting = new Map<string, (outcome: WriteOutcome | undefined) => void>();
  private readonly maxWaiters: number;
  private lastRefusalLoggedAt = 0;
  private readonly channel: SupervisedChannel;
  readonly replyQueue: string;

  constructor(@Inject(AMQP) connection: AmqpConnectionManager, @Inject(API_CONFIG) config: ApiConfig) {
    this.maxWaiters = config.MAX_PREFER_WAITERS;
    this.replyQueue = `kv.replies.${config.KEYFLOW_INSTANCE}.${randomBytes(4).toString('hex')}`;
    const supervised = new SupervisedChannel(connection, {
      name: 'operation-waiter',
      logger: this.logger,
      setup: async (channel: Channel) => {
        await channel.assertQueue(this.replyQueue, { exclusive: true, autoDelete: true, durable: false });
        await channel.consume(
          this.replyQueue,
          (m) => {
            if (m) this.receive(m.content);
            else supervised.reopen('the broker cancelled the consumer');
          },
          { noAck: true },
        );
      },
    });
    this.channel = supervised;
  }

  /**
   * Resolves with the outcome, or `undefined` when `timeoutMs` passes first. Register before publishing.
   *
   * Returns `undefined` (do not wait) when this instance already holds `MAX_PREFER_WAITERS` waiters: each one
   * keeps a request, its socket and a timer for up to 60 s, so their number is what bounds the memory that
   * `Prefer: wait` takes. Such a write is answered 202 at once rather than refused: it is a valid write, a
   * preference may be ignored (RFC 7240), and `GET /v1/operations/{id}` follows it like any other 202.
   */
  waitFor(
    operationId: string,
    timeoutMs: number,
  ): { outcome: Promise<WriteOutcome | undefined>; cancel: () => void } | undefined {
    if (this.waiting.size >= this.maxWaiters) {
      const now = Date.now();
      if (now - this.lastRefusalLoggedAt >= 10_000) {
        this.lastRefusalLoggedAt = now;
        this.logger.warn(`${this.waiting.size} writes wait already; answering new ones 202 without waiting`);
      }
      return undefined;
    }
    let timer: NodeJS.Timeout | undefined;
    const outcome = new Promise<WriteOutcome | undefined>((resolve) => {
      this.waiting.set(operationId, resolve);
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    }).finally(() => {
      clearTimeout(timer);
      this.waiting.delete(operationId);
    });
    return { outcome, cancel: () => this.waiting.get(operationId)?.(undefined) };
  }

  async ready(): Promise<void> {
    await this.channel.waitForConnect();
  }

  async beforeApplicationShutdown(): Promise<void> {
    for (const resolve of this.waiting.values()) resolve(undefined);
    await this.channel.close();
  }

  private receive(content: Buffer): void {
    try {
      const outcome = JSON.parse(content.toString('utf8')) as WriteOutcome;
      this.waiting.get(outcome.id)?.(outcome);
    } catch (err) {
      this.logger.warn(`ignoring a malformed outcome: ${(err as Error).message}`);
    }
  }
}
