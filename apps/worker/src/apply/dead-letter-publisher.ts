import { Logger } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { Channel } from 'amqplib';
import { DEAD_LETTER_EXCHANGE, DEAD_LETTER_HEADERS } from '@keyflow/contracts';
import { SupervisedChannel } from '@keyflow/messaging';

export interface WriteLetter {
  /** The write as a version 1 message: its own line of the batch it came in. */
  text: string;
  /** The shard queue it came from. */
  queue: string;
  reason: string;
  replyTo?: string;
}

/**
 * Dead-letters single writes by publishing them to the dead-letter exchange, on a confirm channel: the way to take
 * one write out of a batch message, whose delivery can only be acked or dead-lettered as a whole. The letter is a
 * version 1 message of that one write, so `npm run dlq` lists and replays it like any other. `publish` resolves
 * once the broker confirmed the letter into the dead-letter queues; only then may the batch message be acked.
 */
export class DeadLetterPublisher {
  private readonly logger = new Logger(DeadLetterPublisher.name);
  /** Opened at the first letter: most workers never publish one. */
  private channel?: SupervisedChannel;
  private closed = false;

  constructor(
    private readonly connection: AmqpConnectionManager,
    private readonly confirmTimeoutMs = 10_000,
  ) {}

  private open(): SupervisedChannel {
    if (this.closed) throw new Error('the dead-letter publisher is closed');
    this.channel ??= new SupervisedChannel(this.connection, {
      name: 'dead-letter-publisher',
      confirm: true,
      publishTimeout: this.confirmTimeoutMs,
      logger: this.logger,
      setup: async (channel: Channel) => {
        await channel.assertExchange(DEAD_LETTER_EXCHANGE, 'fanout', { durable: true });
      },
    });
    return this.channel;
  }

  async publish(letter: WriteLetter): Promise<void> {
    await this.open().publish(DEAD_LETTER_EXCHANGE, letter.queue, Buffer.from(letter.text, 'utf8'), {
      persistent: true,
      contentType: 'application/json',
      timestamp: Date.now(),
      ...(letter.replyTo ? { replyTo: letter.replyTo } : {}),
      headers: {
        'x-first-death-reason': 'rejected',
        'x-first-death-queue': letter.queue,
        [DEAD_LETTER_HEADERS.by]: 'worker',
        [DEAD_LETTER_HEADERS.reason]: letter.reason,
        [DEAD_LETTER_HEADERS.queue]: letter.queue,
        [DEAD_LETTER_HEADERS.at]: new Date().toISOString(),
      },
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.channel?.close();
  }
}
