import type { Channel, Message } from 'amqplib';
import type { ConnectionLogger } from './amqp-connection.util';

/** How a consumer settles a delivery: ack it (or it and every earlier one), requeue it, or dead-letter it. */
export type Settlement = 'ack' | 'ack-up-to' | 'requeue' | 'dead-letter';

/**
 * Acks or nacks a delivery on the channel it came from, and never throws.
 *
 * amqplib throws `IllegalOperationError: Channel closed` when that channel has closed (the connection was
 * lost, the broker closed the channel, or the consumer closed it to hand a shard over), and a delivery tag
 * means nothing on another channel. Nothing is lost: the broker returns every unsettled delivery of a closed
 * channel to its queue and delivers it again, and keyflow's consumers are idempotent by operation id. So the
 * right reaction is to log and carry on; a throw here would escape into a consumer callback or a timer and
 * end the process.
 *
 * @returns whether the settlement was sent; false if the channel had closed and the broker will redeliver.
 */
export function settleDelivery(
  channel: Channel,
  message: Message,
  how: Settlement,
  logger: Pick<ConnectionLogger, 'warn'>,
): boolean {
  try {
    switch (how) {
      case 'ack':
        channel.ack(message);
        break;
      case 'ack-up-to':
        channel.ack(message, true);
        break;
      case 'requeue':
        channel.nack(message, false, true);
        break;
      case 'dead-letter':
        channel.nack(message, false, false);
        break;
    }
    return true;
  } catch (err) {
    logger.warn(
      `could not ${how} delivery ${message.fields.deliveryTag}; the broker will redeliver it: ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
    return false;
  }
}
