import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_QUEUE, shardOf, shardQueueName } from '@keyflow/contracts';
import {
  gatewayRequest,
  managementRequest,
  peekQueue,
  pollUntil,
  publishDeadLetter,
  readStack,
  type StackInfo,
} from '@keyflow/testing';

/** The write path's infrastructure as the stack built it: quorum queues on every node, dead-lettering. */
let stack: StackInfo;

function management<T>(path: string): Promise<T> {
  return managementRequest<T>(path, {}, stack);
}

function gateway(method: string, path: string, body?: unknown) {
  return gatewayRequest(method, path, { body, stack, timeoutMs: 60_000 });
}

describe('write path (e2e)', () => {
  beforeAll(() => {
    stack = readStack();
  });

  describe('shard queues', () => {
    it('should be quorum queues with a member on each of the 3 RabbitMQ nodes', async () => {
      const queues = await management<
        Array<{ name: string; type: string; members?: string[]; arguments: Record<string, unknown> }>
      >(`/queues/${encodeURIComponent(stack.amqpVhost)}?columns=name,type,members,arguments`);
      const shards = queues.filter((q) => q.name.startsWith('kv.shard.'));
      expect(shards.length).toBeGreaterThanOrEqual(16);
      for (const queue of [...shards, ...queues.filter((q) => q.name === DEAD_LETTER_QUEUE)]) {
        expect(queue.type).toBe('quorum');
        expect([...(queue.members ?? [])].sort()).toEqual(['rmq1@localhost', 'rmq2@localhost', 'rmq3@localhost']);
      }
      expect(shards[0]?.arguments).toMatchObject({
        'x-single-active-consumer': true,
        'x-dead-letter-exchange': 'kv.dead-letter',
      });
      // Returned deliveries (restarts, rebalances) must not count towards dead-lettering: no broker limit.
      expect(shards[0]?.arguments).not.toHaveProperty('x-delivery-limit');
    });

    it('should have a consumer on every shard queue', async () => {
      // The management API's queue stats are filled in some seconds after a consumer appears (after a restart of
      // the stack or of a worker, earlier suites): poll instead of reading them once.
      const shards = await pollUntil(
        async () =>
          (
            await management<Array<{ name: string; consumers?: number }>>(
              `/queues/${encodeURIComponent(stack.amqpVhost)}?columns=name,consumers`,
            )
          ).filter((q) => q.name.startsWith('kv.shard.')),
        (queues) => queues.length === 16 && queues.every((q) => (q.consumers ?? 0) > 0),
        { what: 'a consumer on each of the 16 shard queues', timeoutMs: 30_000, intervalMs: 500 },
      );
      expect(shards.map((q) => q.consumers ?? 0).every((n) => n > 0)).toBe(true);
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
        () => peekQueue(DEAD_LETTER_QUEUE, 1000, stack),
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

  describe('dead letters', () => {
    function dlq(...args: string[]) {
      const result = spawnSync(
        process.execPath,
        ['-r', '@swc-node/register', 'tools/dlq/src/main.ts', ...args, '--amqp', stack.amqp[0] ?? ''],
        { encoding: 'utf8', timeout: 60_000 },
      );
      return { code: result.status, out: result.stdout, err: result.stderr };
    }

    const deadLetter = (body: unknown, headers: Record<string, unknown>) => publishDeadLetter(body, headers, stack);

    it('should mark an operation the broker gave up on as failed, list it, and apply it when replayed', async () => {
      const key = `replay-${randomUUID()}`;
      const id = randomUUID();
      // What the broker does past a delivery-limit policy: the message goes to the dead-letter exchange.
      await deadLetter(
        { v: 1, id, key, type: 'put', value: { replayed: true }, acceptedAt: new Date().toISOString() },
        { 'x-first-death-reason': 'delivery_limit', 'x-first-death-queue': shardQueueName(shardOf(key, 16)) },
      );
      const failed = await pollUntil(
        () => gateway('GET', `/v1/operations/${id}`),
        (r) => r.json.status === 'failed',
        { what: 'the audit to mark the operation failed' },
      );
      expect(failed.json.error).toBe(
        `dead-lettered from ${shardQueueName(shardOf(key, 16))}: delivered more often than its delivery-limit policy allows, without being applied`,
      );

      const listed = dlq('list', '--json');
      expect(listed.code).toBe(0);
      expect(
        (JSON.parse(listed.out) as Array<{ operationId?: string; reason: string }>).find((l) => l.operationId === id),
      ).toMatchObject({
        key,
        type: 'put',
        reason: 'delivery_limit',
      });

      const replayed = dlq('replay', '--id', id);
      expect(replayed.err).toBe('');
      expect(replayed.out).toContain(`replayed ${id} (put ${key}) to ${shardQueueName(shardOf(key, 16))}`);
      const applied = await pollUntil(
        () => gateway('GET', `/v1/operations/${id}`),
        (r) => r.json.status === 'applied',
        { what: 'the replayed operation to be applied' },
      );
      expect(applied.json).toMatchObject({ status: 'applied', version: 1 });
      expect((await gateway('GET', `/v1/kv/${encodeURIComponent(key)}?consistency=strong`)).json).toMatchObject({
        value: { replayed: true },
      });
      expect(JSON.parse(dlq('list', '--json').out)).not.toContainEqual(expect.objectContaining({ operationId: id }));
    });

    it('should purge a dead letter only with --yes', async () => {
      const id = randomUUID();
      await deadLetter({ v: 1, id, key: 'x', type: 'nonsense' }, { 'x-first-death-reason': 'rejected' });
      const dry = dlq('purge', '--id', id);
      expect(dry.code).toBe(1);
      expect(dry.out).toContain('would delete 1 dead letter(s); add --yes to delete them');
      const purged = dlq('purge', '--id', id, '--yes');
      expect(purged.code).toBe(0);
      expect(purged.out).toContain(`purged ${id}`);
      expect(JSON.parse(dlq('list', '--json').out)).not.toContainEqual(expect.objectContaining({ operationId: id }));
    });

    it('should explain bad usage', () => {
      const r = dlq('replay');
      expect(r.code).toBe(2);
      expect(r.err).toContain('dlq: replay needs --id <operation-id> or --all');
    });
  });
});
