import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_QUEUE,
  encodeWriteBatch,
  shardOf,
  shardQueueName,
  WRITE_BATCH_CONTENT_TYPE,
  writeMessageText,
  type WriteMessage,
} from '@keyflow/contracts';
import { KeyflowProblem } from '@keyflow/client';
import { gatewayRequest, peekQueue, pollUntil, readStack, stackClient, type StackInfo } from '@keyflow/testing';

/**
 * Group commit and batch messages on the real stack: the APIs put the writes that arrive while a confirm is awaited
 * into one message per shard, and the workers apply batch messages write by write.
 */
let stack: StackInfo;

function request(method: string, path: string, options: { body?: unknown; gateway?: string } = {}) {
  return gatewayRequest(method, path, { ...options, stack, timeoutMs: 60_000 });
}

/** Waits until every operation is finished (applied, conflict or failed) and returns their records. */
async function finished(ids: string[]) {
  const client = stackClient({ stack });
  const records = [];
  for (const id of ids) {
    // A write published straight to the broker has no record until a worker takes it: 404 until then.
    await pollUntil(
      () =>
        client.operation(id).then(
          () => true,
          (error: unknown) => {
            if (error instanceof KeyflowProblem && error.status === 404) return false;
            throw error;
          },
        ),
      Boolean,
      { what: `operation ${id} to be recorded`, timeoutMs: 60_000, intervalMs: 100 },
    );
    records.push(await client.settled(id, { timeoutMs: 60_000 }));
  }
  return records;
}

/** Batch messages the APIs published and the writes they carried, summed over the APIs (their `/metrics`). */
async function groupCommitCounts(): Promise<{ messages: number; writes: number }> {
  const counts = { messages: 0, writes: 0 };
  for (const api of stack.apis) {
    const text = await (await fetch(`${api}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    counts.messages += value('keyflow_group_commit_messages');
    counts.writes += value('keyflow_group_commit_writes');
  }
  return counts;
}

/** Keys of one shard (of 16, as the test stack has): one batch message can carry all of them. */
function keysOfOneShard(prefix: string, count: number): string[] {
  const keys: string[] = [];
  const shard = shardOf(`${prefix}-0`, 16);
  for (let i = 0; keys.length < count; i++) {
    if (shardOf(`${prefix}-${i}`, 16) === shard) keys.push(`${prefix}-${i}`);
  }
  return keys;
}

describe('group commit and batch messages (e2e)', () => {
  beforeAll(() => {
    stack = readStack();
  });

  it('should give concurrent writes to one key from many clients each its own operation and gapless versions', async () => {
    const key = `group-${randomUUID()}`;
    const clients = 120;
    const before = await groupCommitCounts();
    // Spread over every gateway (so over both APIs), all at once: group commit batches what arrives together.
    const answers = await Promise.all(
      Array.from({ length: clients }, (_, n) =>
        request('PUT', `/v1/kv/${key}`, {
          body: { value: { client: n } },
          gateway: stack.gateways[n % stack.gateways.length],
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: clients }, () => 202));
    const ids = answers.map((a) => String(a.json.operationId));
    expect(new Set(ids).size).toBe(clients);
    // They travelled together: fewer messages than writes (the suite runs alone on the stack).
    const after = await groupCommitCounts();
    expect(after.writes - before.writes).toBe(clients);
    expect(after.messages - before.messages).toBeLessThan(clients);

    const records = await finished(ids);
    expect(records.map((r) => r.status)).toEqual(records.map(() => 'applied'));
    const versions = records.map((r) => Number(r.version)).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: clients }, (_, i) => i + 1));

    // The value read is the last version's: the value of the client whose operation got version `clients`.
    const lastClient = records.findIndex((r) => r.version === clients);
    const read = await pollUntil(
      () => request('GET', `/v1/kv/${key}`),
      (r) => r.status === 200 && r.json.version === clients,
      { what: 'the last version to be readable' },
    );
    expect(read.json.value).toEqual({ client: lastClient });
  });

  it('should dead-letter alone a write of a batch message that cannot be stored, and apply its batch-mates', async () => {
    const [first, poisoned, last] = keysOfOneShard(`batch-${randomUUID()}`, 3);
    const writes: WriteMessage[] = [first, poisoned, last].map((key) => ({
      v: 1,
      id: randomUUID(),
      key: key,
      type: 'put',
      value: { n: 7 },
      acceptedAt: new Date().toISOString(),
    }));
    const lines = writes.map((w) => writeMessageText(w));
    // As an API published before values were checked: a number no double holds.
    lines[1] = lines[1].replace('"n":7', '"n":1e999999');
    const connection = await connect(stack.amqp[0] ?? '');
    try {
      const channel = await connection.createConfirmChannel();
      channel.sendToQueue(shardQueueName(shardOf(first, 16)), encodeWriteBatch(lines), {
        persistent: true,
        contentType: WRITE_BATCH_CONTENT_TYPE,
      });
      await channel.waitForConfirms();
      await channel.close();
    } finally {
      await connection.close();
    }

    const records = await finished(writes.map((w) => w.id));
    expect(records.map((r) => [r.key, r.status, r.version ?? null])).toEqual([
      [first, 'applied', 1],
      [poisoned, 'failed', null],
      [last, 'applied', 1],
    ]);
    expect(records[1]?.error).toMatch(/^the write cannot be stored as sent: the number 1e999999/);
    for (const key of [first, last]) {
      const read = await pollUntil(
        () => request('GET', `/v1/kv/${String(key)}`),
        (r) => r.status === 200,
        { what: `${String(key)} to be readable` },
      );
      expect(read.json.value).toEqual({ n: 7 });
    }
    expect((await request('GET', `/v1/kv/${String(poisoned)}`)).status).toBe(404);

    // The letter is the poisoned write alone, as a single-write message `npm run dlq` lists and replays.
    const letters = await pollUntil(
      () => peekQueue(DEAD_LETTER_QUEUE, 1000, stack),
      (messages) => messages.some((m) => m.payload.includes(writes[1]?.id ?? '')),
      { what: 'the poisoned write in the dead-letter queue' },
    );
    const mine = letters.filter((m) => writes.some((w) => m.payload.includes(w.id)));
    expect(mine).toHaveLength(1);
    expect(JSON.parse((mine[0]?.payload ?? '{}').replace('1e999999', '0'))).toMatchObject({
      v: 1,
      id: writes[1]?.id,
      key: poisoned,
    });
  });

  it('should refuse a revoked token on every instance within a second', async () => {
    const created = await gatewayRequest('POST', '/v1/auth/tokens', { body: { name: 'revocation-bound' }, stack });
    expect(created.status).toBe(201);
    const bearer = { authorization: `Bearer ${String(created.json.token)}` };
    // Every API has the token in its memory now.
    for (const api of stack.apis) {
      for (let i = 0; i < 3; i++) {
        const me = await gatewayRequest('GET', '/v1/auth/me', { gateway: api, headers: bearer, asAdmin: false, stack });
        expect(me.status).toBe(200);
      }
    }
    const revoked = await gatewayRequest('DELETE', `/v1/auth/tokens/${String(created.json.id)}`, { stack });
    expect(revoked.status).toBe(204);
    const revokedAt = Date.now();
    for (const api of stack.apis) {
      await pollUntil(
        () => gatewayRequest('GET', '/v1/auth/me', { gateway: api, headers: bearer, asAdmin: false, stack }),
        (r) => r.status === 401,
        { what: `${api} to refuse the revoked token`, timeoutMs: 5_000, intervalMs: 20 },
      );
    }
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
  });
});
