import { connect, type ChannelModel, type ConfirmChannel, type GetMessage } from 'amqplib';
import { DEAD_LETTER_QUEUE } from '@keyflow/contracts';
import { describeDeadLetter, type DeadLetter } from './dead-letter.util';

/** A dead letter taken off the queue but not acknowledged: it stays in the broker until removed. */
export interface HeldLetter {
  readonly letter: DeadLetter;
  readonly content: Buffer;
  readonly messageId?: string;
}

/**
 * The dead-letter queue as the tool reads it (a port: the specs use an in-memory one).
 * - `next` takes the letter at the head and holds it (unacknowledged); undefined when none is left.
 * - `remove` acknowledges a held letter, which deletes it. An ack has no reply: `flush` returns once the broker
 *   has handled every earlier removal, before the tool tells the database the letters are gone.
 * - `publish` puts a copy on a queue and resolves on the broker's confirm.
 * - `close` gives every letter still held back to the queue, in order.
 */
export interface DeadLetterQueue {
  /** Letters waiting when asked; a scan stops there, so letters dead-lettered meanwhile wait for the next run. */
  size(): Promise<number>;
  next(): Promise<HeldLetter | undefined>;
  remove(held: HeldLetter): void;
  flush(): Promise<void>;
  publish(queue: string, held: HeldLetter): Promise<void>;
  close(): Promise<void>;
}

/**
 * The queue over AMQP 0-9-1, one letter per `basic.get`.
 *
 * Why not a consumer: a consumer's window (prefetch) is at most 65,535 unacknowledged messages, and every letter
 * the tool keeps (not selected, refused, or before a page) must stay unacknowledged, since acknowledging deletes
 * it. A consumer therefore cannot get past 65,535 kept letters, and a prefetch of the whole queue (what the tool
 * did before) fails beyond that and pulls every letter into memory. `basic.get` has no window: the tool holds in
 * memory only the letter at hand, and the broker keeps the rest, as it does anyway. It costs a round trip per letter.
 *
 * What holding costs: each letter put back counts as a delivery (`x-delivery-count`) on a quorum queue. The
 * dead-letter queue has no delivery limit, so nothing is dropped; RabbitMQ 4 gives quorum queues a default limit of
 * 20, so there the queue must be declared without one. The broker's `consumer_timeout` (30 minutes by default)
 * may close a channel that holds letters that long: they return to the queue, nothing is lost. Two runs at once
 * each see only the letters the other does not hold: run one at a time.
 */
export class AmqpDeadLetterQueue implements DeadLetterQueue {
  private readonly messages = new WeakMap<HeldLetter, GetMessage>();

  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: ConfirmChannel,
  ) {}

  static async open(url: string): Promise<AmqpDeadLetterQueue> {
    const connection = await connect(url);
    try {
      return new AmqpDeadLetterQueue(connection, await connection.createConfirmChannel());
    } catch (err) {
      await connection.close().catch(() => undefined);
      throw err;
    }
  }

  async size(): Promise<number> {
    return (await this.channel.checkQueue(DEAD_LETTER_QUEUE)).messageCount;
  }

  async next(): Promise<HeldLetter | undefined> {
    const message = await this.channel.get(DEAD_LETTER_QUEUE, { noAck: false });
    if (message === false) return undefined;
    const messageId = message.properties.messageId as string | undefined;
    const held: HeldLetter = {
      letter: describeDeadLetter(message),
      content: message.content,
      ...(messageId ? { messageId } : {}),
    };
    this.messages.set(held, message);
    return held;
  }

  remove(held: HeldLetter): void {
    const message = this.messages.get(held);
    if (!message) throw new Error('this letter is not held on this channel');
    this.messages.delete(held);
    this.channel.ack(message);
  }

  /**
   * A round trip on the channel that carried the acks: the broker handles a channel's frames in order, so once it
   * answers, it has every earlier ack (a broker crash in the next moments could still bring a letter back; the
   * replay decision's own checks cover a letter that returns).
   */
  async flush(): Promise<void> {
    await this.channel.checkQueue(DEAD_LETTER_QUEUE);
  }

  publish(queue: string, held: HeldLetter): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.channel.sendToQueue(
        queue,
        held.content,
        { persistent: true, contentType: 'application/json', ...(held.messageId ? { messageId: held.messageId } : {}) },
        (err: unknown) =>
          err ? reject(err instanceof Error ? err : new Error('the broker did not confirm the publish')) : resolve(),
      );
    });
  }

  async close(): Promise<void> {
    try {
      await this.channel.close();
    } catch {
      // Already closed (by the broker, say): the held letters are back in the queue either way.
    } finally {
      await this.connection.close().catch(() => undefined);
    }
  }
}
