import { connect } from 'amqplib';
import { DEAD_LETTER_EXCHANGE, shardOf, shardQueueName } from '@keyflow/contracts';
import { randomUUID } from 'node:crypto';
import { readStack, type StackInfo } from './stack-contract';

/** Publishes `body` to the dead-letter exchange with `headers`, as the broker does when it gives up on a message. */
export async function publishDeadLetter(
  body: unknown,
  headers: Record<string, unknown>,
  stack: StackInfo = readStack(),
): Promise<void> {
  const connection = await connect(stack.amqp[0] ?? '');
  try {
    const channel = await connection.createConfirmChannel();
    channel.publish(DEAD_LETTER_EXCHANGE, '', Buffer.from(JSON.stringify(body)), { persistent: true, headers });
    await channel.waitForConfirms();
    await channel.close();
  } finally {
    await connection.close();
  }
}

/**
 * A put of `value` under `key` that the broker gave up on past its shard queue's delivery limit (what a delivery-
 * limit policy does), dead-lettered with the headers the broker sets. Returns its operation id.
 */
export async function deadLetterPut(key: string, value: unknown, stack: StackInfo = readStack()): Promise<string> {
  const id = randomUUID();
  const body = { v: 1, id, key, type: 'put', value, acceptedAt: new Date().toISOString() };
  const headers = { 'x-first-death-reason': 'delivery_limit', 'x-first-death-queue': shardQueueName(shardOf(key, 16)) };
  await publishDeadLetter(body, headers, stack);
  return id;
}
