import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_QUEUE, shardOf, shardQueueName } from '@keyflow/contracts';
import { pollUntil, readStack, type StackInfo } from '@keyflow/testing';

/** The write path's infrastructure as the stack built it: quorum queues on every node, dead-lettering. */
let stack: StackInfo;

async function management<T>(path: string, init: RequestInit = {}): Promise<T> {
  const auth = Buffer.from(`${stack.managementUser}:${stack.managementPassword}`).toString('base64');
  const response = await fetch(`${stack.management}/api${path}`, {
    ...init,
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
  });
  if (!response.ok) throw new Error(`management ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function gateway(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(stack.gateway + path, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('write path (e2e)', () => {
  beforeAll(() => {
    stack = readStack();
  });

  describe('shard queues', () => {
    it('should be quorum queues with a member on each of the 3 RabbitMQ nodes', async () => {
      const queues = await management<Array<{ name: string; type: string; members?: string[]; arguments: Record<string, unknown> }>>(
        '/queues/%2F?columns=name,type,members,arguments',
      );
      const shards = queues.filter((q) => q.name.startsWith('kv.shard.'));
      expect(shards.length).toBeGreaterThanOrEqual(16);
      for (const queue of [...shards, ...queues.filter((q) => q.name === DEAD_LETTER_QUEUE)]) {
        expect(queue.type).toBe('quorum');
        expect([...(queue.members ?? [])].sort()).toEqual(['rmq1@localhost', 'rmq2@localhost', 'rmq3@localhost']);
      }
      expect(shards[0]?.arguments).toMatchObject({
        'x-single-active-consumer': true,
        'x-dead-letter-exchange': 'kv.dead-letter',
        'x-delivery-limit': 5,
      });
    });

    it('should have a consumer on every shard queue', async () => {
      const queues = await management<Array<{ name: string; consumers: number }>>('/queues/%2F?columns=name,consumers');
      for (const q of queues.filter((q) => q.name.startsWith('kv.shard.'))) expect(q.consumers).toBeGreaterThan(0);
    });
  });

  describe('poison messages', () => {
    it('should dead-letter a malformed message, mark its operation failed, and keep the shard flowing', async () => {
      const key = `poison-${randomUUID()}`;
      const id = randomUUID();
      const queue = shardQueueName(shardOf(key, 16));
      const connection = await connect(stack.amqp[0] ?? '');
      try {
        const channel = await connection.createConfirmChannel();
        const poison = { v: 1, id, key, type: 'explode', acceptedAt: new Date().toISOString() };
        channel.sendToQueue(queue, Buffer.from(JSON.stringify(poison)), { persistent: true, messageId: id });
        await channel.waitForConfirms();
        await channel.close();
      } finally {
        await connection.close();
      }

      const failed = await pollUntil(
        () => gateway('GET', `/v1/operations/${id}`),
        (r) => r.json.status === 'failed',
        { what: 'the poison operation to be marked failed' },
      );
      expect(failed.json).toEqual({
        id,
        key,
        type: 'put',
        status: 'failed',
        error: 'malformed write message: type must be put or delete',
        acceptedAt: expect.any(String),
        finishedAt: expect.any(String),
      });

      const dead = await pollUntil(
        () =>
          management<Array<{ payload: string }>>(`/queues/%2F/${DEAD_LETTER_QUEUE}/get`, {
            method: 'POST',
            body: JSON.stringify({ count: 1000, ackmode: 'ack_requeue_true', encoding: 'auto' }),
          }),
        (messages) => messages.some((m) => m.payload.includes(id)),
        { what: 'the poison message in the dead-letter queue' },
      );
      expect(dead.filter((m) => m.payload.includes(id))).toHaveLength(1);

      // The same shard still applies writes after the poison message.
      const put = await gateway('PUT', `/v1/kv/${encodeURIComponent(key)}`, { value: 'fine' });
      expect(put.status).toBe(202);
      await pollUntil(
        () => gateway('GET', `/v1/operations/${String(put.json.operationId)}`),
        (r) => r.json.status === 'applied',
        { what: 'the next write on the shard to be applied' },
      );
    });
  });
});
