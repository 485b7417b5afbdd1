import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { WriteOutcome } from '@keyflow/contracts';
import { SupervisedChannel } from '@keyflow/messaging';
import { AMQP } from '@keyflow/runtime';

/**
 * Tells a waiting API instance (`Prefer: wait`) how its write ended, by publishing the outcome to the
 * `replyTo` queue the API put on the message. Best effort: the reply queue is the API's own, exclusive
 * and transient; if it is gone, the API has stopped waiting and answers from the operation record instead.
 */
@Injectable()
export class OutcomeNotifier implements BeforeApplicationShutdown {
  private readonly logger = new Logger(OutcomeNotifier.name);
  private readonly channel: SupervisedChannel;

  constructor(@Inject(AMQP) connection: AmqpConnectionManager) {
    this.channel = new SupervisedChannel(connection, {
      name: 'outcome-notifier',
      confirm: false,
      publishTimeout: 2_000,
      logger: this.logger,
    });
  }

  notify(replyTo: string | undefined, outcome: WriteOutcome): void {
    if (!replyTo) return;
    this.channel
      .publish('', replyTo, Buffer.from(JSON.stringify(outcome)), {
        contentType: 'application/json',
        correlationId: outcome.id,
      })
      .catch((err: Error) => this.logger.debug(`could not notify ${replyTo} of ${outcome.id}: ${err.message}`));
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.channel.close();
  }
}
