import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import type { Pool, PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_QUEUE, shardOf, shardQueueName } from '@keyflow/contracts';
import {
  killProcess,
  peekQueue,
  pollUntil,
  readStack,
  restoreProcesses,
  stackPool,
  startProcess,
  supervisorctl,
  tryGatewayRequest,
  type StackInfo,
} from '@keyflow/testing';

/**
 * Restarts during a backlog (issue 13, item 4). A quorum queue counts every return of a delivery, and a worker that
 * dies returns its whole prefetch (up to 500 writes of the shard, most never attempted). With `x-delivery-limit` 5
 * on the shard queues, a sixth return dead-lettered healthy writes. Now only attempts that really failed count.
 *
 * The test holds the row of one key (`SELECT … FOR UPDATE` in an open transaction), so that every batch of that
 * key's shard blocks in its transaction: the worker holding the shard has a batch in flight and the rest of its
 * prefetch unattempted, for as long as the test wants. It fills a backlog of 1,000 writes to the key, then six times
 * finds the worker whose database session waits on that row (the holder: single-active-consumer gives the shard to
 * one worker at a time) and SIGKILLs it; the supervisor restarts it, the standby takes the shard and the returned
 * deliveries. Then it lets go of the row. Every write must be applied, in order, none failed, no dead letter.
 */
const SHARDS = 16;
const BACKLOG = 1_000;
const KILLS = 6;

let stack: StackInfo;
let db: Pool;

function put(key: string, value: unknown, idempotencyKey: string) {
  const headers = { 'idempotency-key': idempotencyKey };
  return tryGatewayRequest('PUT', `/v1/kv/${encodeURIComponent(key)}`, { body: { value }, headers, stack });
}

/** A write the API accepted (202), retried with its Idempotency-Key on anything else: one operation per write. */
async function accepted(key: string, value: unknown): Promise<string> {
  const idempotencyKey = randomUUID();
  const r = await pollUntil(
    () => put(key, value, idempotencyKey),
    (x) => x.status === 202,
    { what: `PUT ${key} accepted`, timeoutMs: 60_000, intervalMs: 200 },
  );
  return String(r.json.operationId);
}

async function statuses(ids: string[]): Promise<Record<string, number>> {
  const { rows } = await db.query<{ status: string; n: string }>(
    'SELECT status, count(*) AS n FROM kv_operations WHERE id = ANY($1::uuid[]) GROUP BY status',
    [ids],
  );
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/**
 * The worker applying the key's shard now: the one whose database session waits on the row the test holds. A killed
 * worker's session may wait on it too until the row is free (PostgreSQL notices the closed connection only then):
 * sessions already seen are skipped.
 */
async function holder(
  lockPid: number,
  seen: ReadonlySet<number>,
): Promise<{ worker: string; pid: number } | undefined> {
  // Waiting behind the test's lock directly, or behind a killed worker's session that queued on the row first
  // (PostgreSQL queues row-lock waiters: the second waits on the first, whose client is gone).
  const { rows } = await db.query<{ pid: number; application_name: string }>(
    `SELECT pid, application_name FROM pg_stat_activity
      WHERE wait_event_type = 'Lock' AND cardinality(pg_blocking_pids(pid)) > 0 AND pid <> $1`,
    [lockPid],
  );
  const workers = new Set(stack.processes.filter((p) => p.kind === 'worker').map((p) => p.name));
  const row = rows.find((r) => !seen.has(r.pid) && workers.has(r.application_name));
  return row ? { worker: row.application_name, pid: row.pid } : undefined;
}

/** Until the supervisor reports `name` RUNNING (up for its start time), so that killing it is a crash, not a failed start. */
async function running(name: string): Promise<void> {
  const program = readStack().processes.find((p) => p.name === name)?.program ?? name;
  await pollUntil(
    () => supervisorctl(['status', program]),
    (out) => /\bRUNNING\b/.test(out),
    { what: `${name} RUNNING`, timeoutMs: 120_000, intervalMs: 500 },
  );
}

/**
 * Ready messages in a queue, as its leader counts them (the management API's figure lags by seconds). A leader that
 * does not answer within 250 ms makes RabbitMQ report 0: read it until two readings agree.
 */
async function stableDepth(queue: string): Promise<number> {
  let previous = -1;
  const agreed = await pollUntil(
    async () => {
      const [last, now] = [previous, await depth(queue)];
      previous = now;
      return { last, now };
    },
    ({ last, now }) => last === now,
    { what: `two equal readings of the depth of ${queue}`, timeoutMs: 15_000, intervalMs: 200 },
  );
  return agreed.now;
}

/** One reading of the ready messages in a queue, from its leader. */
async function depth(queue: string): Promise<number> {
  const connection = await connect(stack.amqp[0] ?? '');
  try {
    const channel = await connection.createChannel();
    const { messageCount } = await channel.checkQueue(queue);
    await channel.close();
    return messageCount;
  } finally {
    await connection.close();
  }
}

/** The dead letters that mention `text`: read through the management API and put back (`ack_requeue_true`). */
async function deadLettersMentioning(text: string): Promise<string[]> {
  return (await peekQueue(DEAD_LETTER_QUEUE, 5_000, stack)).map((m) => m.payload).filter((p) => p.includes(text));
}

describe('a backlog across worker restarts (e2e)', () => {
  beforeAll(() => {
    stack = readStack();
    db = stackPool(stack.db.write, 4);
  });

  afterAll(async () => {
    await db.end();
    await restoreProcesses({ kind: 'worker', waitForHealth: true });
  });

  it(`should apply every write of a ${BACKLOG}-write backlog on one shard through ${KILLS} kills of the worker holding it, dead-lettering none`, async () => {
    const key = `backlog-${randomUUID()}`;
    const queue = shardQueueName(shardOf(key, SHARDS));
    // The key's row must exist for the test to hold it.
    const seed = await accepted(key, { seq: 0 });
    await pollUntil(
      () => statuses([seed]),
      (s) => s.applied === 1,
      { what: 'the seed write applied', timeoutMs: 60_000, intervalMs: 200 },
    );
    const deadLettersBefore = await stableDepth(DEAD_LETTER_QUEUE);

    const lock: PoolClient = await db.connect();
    let ids: string[] = [];
    const killed: string[] = [];
    try {
      await lock.query('BEGIN');
      await lock.query('SELECT 1 FROM kv_entries WHERE key = $1 FOR UPDATE', [key]);
      const lockPid = (await lock.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;

      // The backlog: 1,000 accepted writes to the key, all on its shard, 25 clients at a time.
      ids = new Array<string>(BACKLOG);
      let next = 0;
      await Promise.all(
        Array.from({ length: 25 }, async () => {
          for (let seq = next++; seq < BACKLOG; seq = next++) ids[seq] = await accepted(key, { seq: seq + 1 });
        }),
      );
      expect(new Set(ids).size).toBe(BACKLOG);

      const seen = new Set<number>();
      for (let kill = 1; kill <= KILLS; kill++) {
        const victim = await pollUntil(
          () => holder(lockPid, seen),
          (h) => h !== undefined,
          {
            what: `the worker holding ${queue} to block on the key (kill ${kill})`,
            timeoutMs: 60_000,
            intervalMs: 200,
          },
        );
        if (!victim) throw new Error(`no worker holds ${queue}`);
        seen.add(victim.pid);
        // Its batch is in flight and the rest of its prefetch unattempted: all of it goes back to the queue.
        await killProcess(victim.worker, 'SIGKILL');
        killed.push(victim.worker);
        await startProcess(victim.worker, { timeoutMs: 120_000 });
        await running(victim.worker);
      }
    } finally {
      await lock.query('ROLLBACK').catch(() => undefined);
      lock.release();
    }
    expect(killed).toHaveLength(KILLS);

    const final = await pollUntil(
      () => statuses(ids),
      (s) => (s.applied ?? 0) + (s.failed ?? 0) + (s.conflict ?? 0) === BACKLOG,
      { what: `all ${BACKLOG} writes settled`, timeoutMs: 180_000, intervalMs: 500 },
    );
    expect(final).toEqual({ applied: BACKLOG });

    // In order and exactly once: the key's applied versions are 1..1001 (the seed and the backlog), gapless.
    const applied = await db.query<{ version: string }>(
      `SELECT version FROM kv_operations WHERE key = $1 AND status = 'applied' ORDER BY version`,
      [key],
    );
    expect(applied.rows.map((r) => Number(r.version))).toEqual(Array.from({ length: BACKLOG + 1 }, (_, i) => i + 1));
    const marked = await db.query<{ n: string }>(
      'SELECT count(*) AS n FROM kv_operations WHERE id = ANY($1::uuid[]) AND dead_lettered_at IS NOT NULL',
      [ids],
    );
    expect(Number(marked.rows[0]?.n)).toBe(0);

    // Nothing reached the dead-letter queue.
    expect(await stableDepth(DEAD_LETTER_QUEUE)).toBe(deadLettersBefore);
    expect(await deadLettersMentioning(key)).toEqual([]);
  }, 600_000);
});
