import { randomUUID } from 'node:crypto';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import {
  DomainError,
  encodeWriteBatch,
  ErrorCode,
  shardOf,
  shardQueueName,
  WRITE_BATCH_CONTENT_TYPE,
  writeMessageText,
  type WriteMessage,
} from '@keyflow/contracts';
import type { ConnectionLogger } from './amqp-connection.util';
import {
  DEFAULT_GROUP_COMMIT,
  GroupCommitter,
  type GroupCommitOptions,
  type GroupCommitStats,
} from './group-commit.util';
import { SupervisedChannel } from './supervised-channel.util';
import type { WriteQueueOptions } from './write-queues.constant';
import { WriteTopology } from './write-topology.util';

export interface WritePublisherOptions extends WriteQueueOptions {
  /** How long a publish may wait for the broker's confirm before the API gives up with 503. */
  confirmTimeoutMs?: number;
  /** Where channel failures are reported (a Nest `Logger` fits); the console if not given. */
  logger?: ConnectionLogger;
  /**
   * Group commit caps (see `GroupCommitter`). `maxWaitMs` defaults to half of `confirmTimeoutMs`, so a write is
   * answered within 1.5 × `confirmTimeoutMs` even behind a message the broker does not confirm.
   */
  groupCommit?: Partial<GroupCommitOptions>;
}

const consoleLogger: ConnectionLogger = {
  log: (message) => console.log(`WritePublisher: ${message}`),
  warn: (message) => console.warn(`WritePublisher: ${message}`),
};

/**
 * Publishes accepted writes to their shard queue on a confirm channel, with group commit. `publish` resolves only
 * when the broker confirmed the message that carries the write (for a quorum queue: written by a majority of its
 * members), which is the moment the API may answer 202.
 *
 * Group commit, per shard: while a message of the shard is waiting for its confirm, the writes that arrive for that
 * shard wait too, and go out together, as one batch message (format version 2, `encodeWriteBatch`), as soon as the
 * confirm returns. A lone write goes out at once; under load batches grow by themselves to what arrives during one
 * confirm round trip, up to the caps (`groupCommit`). The broker's cost is per message, so this is what lets it keep
 * up. Each write keeps its own operation id, idempotency and outcome; each learns its own message's confirm, and a
 * write that waited longer than `confirmTimeoutMs` behind a message that is not confirmed fails, unsent, like a
 * publish that timed out. Per-key order holds: a key's writes go to one shard, whose messages leave in order, one at
 * a time, and keep their order inside a message.
 *
 * If the connection drops before the confirm, the message is re-sent on reconnect; the worker's idempotency by
 * operation id makes a duplicate harmless. The channel is a `SupervisedChannel`: a refused queue declaration is logged
 * and retried on a fresh channel, never an `error` event that ends the API. Until the declarations succeed, publishes
 * wait and, after `confirmTimeoutMs`, fail with 503 like any other unconfirmed publish. Shard queues declared by an
 * older release are used as they are (`WriteTopology`).
 */
export class WritePublisher {
  private readonly channel: SupervisedChannel;
  private readonly committer: GroupCommitter<string>;

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
    const confirmTimeoutMs = options.confirmTimeoutMs ?? 5_000;
    this.committer = new GroupCommitter((shard, lines) => this.send(shard, lines), {
      ...DEFAULT_GROUP_COMMIT,
      maxWaitMs: confirmTimeoutMs / 2,
      ...options.groupCommit,
    });
  }

  /**
   * Resolves once the broker confirmed the message carrying the write; rejects with 503 (`BROKER_UNAVAILABLE`) when
   * it did not in time, or when the write waited too long behind a message it did not confirm (then it was not sent).
   * `replyTo`: a queue the worker sends the write's outcome to, for a client that waits for it.
   * `valueJson`: the put's value already serialised, so it is not stringified twice.
   */
  async publish(
    message: WriteMessage,
    { replyTo, valueJson }: { replyTo?: string; valueJson?: string } = {},
  ): Promise<void> {
    const line = writeMessageText(message, valueJson, replyTo);
    try {
      await this.committer.submit(shardOf(message.key, this.options.shards), line, Buffer.byteLength(line));
    } catch (err) {
      throw new DomainError(ErrorCode.BROKER_UNAVAILABLE, 'the message broker did not confirm the write in time', {
        operationId: message.id,
        cause: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** How many batch messages carried how many writes, since the start. */
  stats(): GroupCommitStats {
    return this.committer.stats();
  }

  private async send(shard: number, lines: string[]): Promise<void> {
    await this.channel.publish('', shardQueueName(shard), encodeWriteBatch(lines), {
      persistent: true,
      messageId: randomUUID(),
      contentType: WRITE_BATCH_CONTENT_TYPE,
      timestamp: Date.now(),
    });
  }

  /** Resolves once the channel is open and the queues are declared (or the publisher was closed). */
  async waitForConnect(): Promise<void> {
    await this.channel.waitForConnect();
  }

  async close(): Promise<void> {
    await this.channel.close();
  }
}
