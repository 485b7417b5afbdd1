import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Channel, ConsumeMessage } from 'amqplib';
import { CHANGE_STREAM, decodeChangeHead, DomainError, ErrorCode, type ChangeHead } from '@keyflow/contracts';

/** Where a stream consumer starts: an offset, the oldest retained change, the next one published, or a time (ms). */
export type StreamStart = { offset: number } | { timestampMs: number } | 'first' | 'next';

/** One message of the change stream, as a watcher reads it. */
export interface StreamMessage {
  offset: number;
  /** Undefined for a message that is not a change this release understands (skipped). */
  head?: ChangeHead;
  /** A put's value as JSON text. */
  content: Buffer;
}

export interface StreamSubscription {
  /** Cancels the consumer and closes its channel. Never throws. */
  close(): Promise<void>;
}

function offsetSpec(start: StreamStart): unknown {
  if (start === 'first' || start === 'next') return start;
  // RabbitMQ takes an offset as a long and a time as an AMQP timestamp (whole seconds), never a guessed int type.
  if ('offset' in start) return { '!': 'long', value: start.offset };
  return { '!': 'timestamp', value: Math.max(0, Math.floor(start.timestampMs / 1000)) };
}

function toStreamMessage(message: ConsumeMessage): StreamMessage {
  const headers = message.properties.headers;
  return { offset: Number(headers?.['x-stream-offset']), head: decodeChangeHead(headers), content: message.content };
}

/**
 * Reads the change stream over AMQP 0.9.1, each reader on its own channel of the API's broker connection.
 *
 * A stream consumer needs a prefetch (the broker refuses one without), `x-stream-offset` to say where it starts, and
 * acks: they do not remove anything (a stream is a log), they return credit, so a consumer that stops acking stops
 * receiving. Each delivery carries its offset in the `x-stream-offset` header. Channels are opened on the current
 * amqplib connection directly, not through amqp-connection-manager's channel wrapper: a wrapper re-runs its setup after
 * a reconnect, which would consume again from the original start. A watcher whose channel closes ends instead, and its
 * client resumes with `Last-Event-ID`.
 */
export class ChangeStreamReader {
  constructor(
    private readonly connection: AmqpConnectionManager,
    private readonly prefetch: number,
  ) {}

  private async openChannel(): Promise<Channel> {
    const model = this.connection.connection;
    if (!model || !this.connection.isConnected()) {
      throw new DomainError(ErrorCode.WATCH_UNAVAILABLE, 'the change stream is unreachable for a moment; retry', {
        retryAfterSeconds: 2,
      });
    }
    const channel = await model.createChannel();
    // A channel error closes the channel (its `close` follows); unheard, amqplib would take the connection down.
    channel.on('error', () => undefined);
    return channel;
  }

  /**
   * Consumes from `start`, handing every delivery to `onMessage` in stream order with its `ack`; `onClose` runs once
   * if the channel closes by any other means than `close()` (the connection was lost, the stream was deleted).
   */
  async subscribe(
    start: StreamStart,
    onMessage: (message: StreamMessage, ack: () => void) => void,
    onClose: (reason: string) => void,
  ): Promise<StreamSubscription> {
    const channel = await this.openChannel();
    let closing = false;
    let reason = 'the broker closed the change stream channel';
    channel.on('error', (err: Error) => (reason = `the broker closed the change stream channel: ${err.message}`));
    channel.once('close', () => {
      if (!closing) onClose(reason);
    });
    const close = async (): Promise<void> => {
      if (closing) return;
      closing = true;
      await channel.close().catch(() => undefined);
    };
    try {
      await channel.prefetch(this.prefetch);
      await channel.consume(
        CHANGE_STREAM,
        (message) => {
          if (!message) {
            if (!closing) onClose('the broker cancelled the change stream consumer');
            void close();
            return;
          }
          onMessage(toStreamMessage(message), () => {
            if (!closing) {
              try {
                channel.ack(message);
              } catch {
                // The channel closed meanwhile; its `close` handler reports it.
              }
            }
          });
        },
        { noAck: false, arguments: { 'x-stream-offset': offsetSpec(start) } },
      );
    } catch (err) {
      closing = true;
      await channel.close().catch(() => undefined);
      throw new DomainError(
        ErrorCode.WATCH_UNAVAILABLE,
        `cannot read the change stream: ${err instanceof Error ? err.message : String(err)}`,
        { retryAfterSeconds: 2 },
      );
    }
    return { close };
  }

  /**
   * The offset of the oldest change the stream still holds (the first delivery of a consumer from `first`), or
   * undefined if no change arrives within `waitMs`: the stream holds none.
   */
  async firstOffset(waitMs: number): Promise<number | undefined> {
    let found!: (offset: number | undefined) => void;
    const first = new Promise<number | undefined>((resolve) => (found = resolve));
    const timer = setTimeout(() => found(undefined), waitMs);
    const subscription = await this.subscribe(
      'first',
      (message) => found(message.offset),
      () => found(undefined),
    );
    try {
      return await first;
    } finally {
      clearTimeout(timer);
      await subscription.close();
    }
  }

  /**
   * Reads the stream from `fromMs` (stream time) up to, not including, `beforeOffset`, handing each message to
   * `onMessage`; rejects after `timeoutMs`. What a watcher's look-back for a `redo` change reads.
   */
  async readBack(
    fromMs: number,
    beforeOffset: number,
    onMessage: (message: StreamMessage) => void,
    timeoutMs: number,
  ): Promise<void> {
    let done!: (err?: Error) => void;
    const finished = new Promise<void>((resolve, reject) => (done = (err) => (err ? reject(err) : resolve())));
    const timer = setTimeout(
      () => done(new Error(`reading the change stream back took more than ${timeoutMs} ms`)),
      timeoutMs,
    );
    const subscription = await this.subscribe(
      { timestampMs: fromMs },
      (message, ack) => {
        ack();
        if (message.offset >= beforeOffset) done();
        else onMessage(message);
      },
      (reason) => done(new Error(reason)),
    );
    try {
      await finished;
    } finally {
      clearTimeout(timer);
      await subscription.close();
    }
  }
}
