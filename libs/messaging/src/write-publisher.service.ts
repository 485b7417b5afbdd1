import type { AmqpConnectionManager } from 'amqp-connection-manager';
import {
  DomainError,
  encodeWriteMessage,
  ErrorCode,
  shardOf,
  shardQueueName,
  type WriteMessage,
} from '@keyflow/contracts';
import type { ConnectionLogger } from './amqp-connection.util';
import { SupervisedChannel } from './supervised-channel.util';
import type { WriteQueueOptions } from './write-queues.constant';
import { WriteTopology } from './write-topology.util';

export interface WritePublisherOptions extends WriteQueueOptions {
  /** How long a publish may wait for the broker's confirm before the API gives up with 503. */
  confirmTimeoutMs?: number;
  /** Where channel failures are reported (a Nest `Logger` fits); the console if not given. */
  logger?: ConnectionLogger;
}

const consoleLogger: ConnectionLogger = {
  log: (message) => console.log(`WritePublisher: ${message}`),
  warn: (message) => console.warn(`WritePublisher: ${message}`),
};

/**
 * Publishes accepted writes to their shard queue on a confirm channel. `publish` resolves only when the
 * broker confirmed the message (for a quorum queue: written by a majority of its members), which is the
 * moment the API may answer 202. Confirms are pipelined: concurrent publishes share the channel and do not
 * wait for each other. If the connection drops before the confirm, the message is re-sent on reconnect; the
 * worker's idempotency by operation id makes a duplicate harmless.
 *
 * The channel is a `SupervisedChannel`: a refused queue declaration is logged and retried on a fresh
 * channel, never an `error` event that ends the API. Until the declarations succeed, publishes wait and, after
 * `confirmTimeoutMs`, fail with 503 like any other unconfirmed publish. Shard queues declared by an older release
 * are used as they are (`WriteTopology`).
 */
export class WritePublisher {
  private readonly channel: SupervisedChannel;

  constructor(
    connection: AmqpConnectionManager,
    private readonly options: WritePublisherOptions,
  ) {
    const logger = options.logger ?? consoleLogger;
    const topology = new WriteTopology(options, logger);
    this.channel = new SupervisedChannel(connection, {
      name: 'write-publisher',
      confirm: true,
      publishTimeout: options.confirmTimeoutMs ?? 5_000,
      setup: (channel) => topology.assertAll(channel),
      logger,
    });
  }

  /**
   * `replyTo`: a queue the worker sends the write's outcome to, for a client that waits for it.
   * `valueJson`: the put's value already serialised, so it is not stringified twice.
   */
  async publish(
    message: WriteMessage,
    { replyTo, valueJson }: { replyTo?: string; valueJson?: string } = {},
  ): Promise<void> {
    const queue = shardQueueName(shardOf(message.key, this.options.shards));
    try {
      await this.channel.publish('', queue, encodeWriteMessage(message, valueJson), {
        persistent: true,
        messageId: message.id,
        contentType: 'application/json',
        timestamp: Date.now(),
        ...(replyTo ? { replyTo } : {}),
      });
    } catch (err) {
      throw new DomainError(ErrorCode.BROKER_UNAVAILABLE, 'the message broker did not confirm the write in time', {
        operationId: message.id,
        cause: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** Resolves once the channel is open and the queues are declared (or the publisher was closed). */
  async waitForConnect(): Promise<void> {
    await this.channel.waitForConnect();
  }

  async close(): Promise<void> {
    await this.channel.close();
  }
}
