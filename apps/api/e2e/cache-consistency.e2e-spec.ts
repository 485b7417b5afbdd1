import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayRequest, redisNodes, pollUntil, readStack, type StackInfo, redisLogin } from '@keyflow/testing';
import { problem } from './problem.util';

/**
 * The cache never goes backwards, against a lagging read replica (issue 13, item 6). WAL replay is paused on every
 * PostgreSQL replica, so reads through HAProxy's read port see the state from before the pause; then a key is
 * written or deleted (the primary commits, the worker updates the cache) and its cache entry is removed, as when
 * the tombstone or the value expired. A GET must still answer the committed state and cache nothing older.
 */
let stack: StackInfo;
let redis: Cluster;
let replicas: Pool[] = [];
const run = randomUUID().slice(0, 8);
const key = (name: string) => `cc-${run}-${name}`;
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT/);

/** Status and JSON body, which the tests assert whole. */
async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const { status, json } = await gatewayRequest(method, path, { body, headers, stack });
  return { status, json };
}

const put = (k: string, value: unknown) => call('PUT', `/v1/kv/${k}`, { value }, { prefer: 'wait=10' });
const del = (k: string) => call('DELETE', `/v1/kv/${k}`, undefined, { prefer: 'wait=10' });
/** The cache entry, as KvCache names it. */
const entryKey = (k: string) => `kv:{@${k}}`;

/** The superuser on a node (with its password from the stack's secrets), which `pg_wal_replay_pause()` needs. */
function superuserUrl(url: string): string {
  const u = new URL(url);
  u.username = stack.credentials.dbSuperuser.username;
  u.password = stack.credentials.dbSuperuser.password;
  return u.toString();
}

async function setReplay(paused: boolean): Promise<void> {
  await Promise.all(
    replicas.map((pool) => pool.query(paused ? 'SELECT pg_wal_replay_pause()' : 'SELECT pg_wal_replay_resume()')),
  );
  if (!paused) return;
  // A pause is only requested at first: replay may apply a little more until every replica reports 'paused'.
  await pollUntil(
    () =>
      Promise.all(
        replicas.map(async (pool) => {
          const r = await pool.query<{ state: string }>('SELECT pg_get_wal_replay_pause_state() AS state');
          return r.rows[0]?.state;
        }),
      ),
    (states) => states.every((state) => state === 'paused'),
    { what: 'WAL replay paused on every replica', timeoutMs: 10_000 },
  );
}

/** What every replica has for `k` (they are all paused, so it is what they had before). */
async function onReplicas(k: string) {
  const rows = await Promise.all(
    replicas.map((pool) =>
      pool.query<{ version: string; deleted: boolean }>('SELECT version, deleted FROM kv_entries WHERE key = $1', [k]),
    ),
  );
  return rows.map((r) => r.rows[0] && { version: Number(r.rows[0].version), deleted: r.rows[0].deleted });
}

describe('cache consistency with a lagging replica (e2e)', () => {
  beforeAll(async () => {
    stack = readStack();
    redis = new Cluster(redisNodes(stack), { redisOptions: redisLogin('admin', stack) });
    const nodes = stack.db.replicas.map((url) => new Pool({ connectionString: superuserUrl(url), max: 1 }));
    const inRecovery = await Promise.all(
      nodes.map((pool) => pool.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r').then((res) => res.rows[0]?.r)),
    );
    replicas = nodes.filter((_, i) => inRecovery[i]);
    await Promise.all(nodes.filter((_, i) => !inRecovery[i]).map((pool) => pool.end()));
    expect(replicas.length).toBeGreaterThan(0);
  });

  afterAll(async () => {
    await setReplay(false).catch(() => undefined);
    await Promise.all(replicas.map((pool) => pool.end()));
    redis?.disconnect();
  });

  /** Creates `k`, waits until every replica has it, then runs `fn` with WAL replay paused on them all. */
  async function withReplicasBehind(k: string, value: unknown, fn: () => Promise<void>): Promise<void> {
    expect((await put(k, value)).status).toBe(201);
    await pollUntil(
      () => onReplicas(k),
      (rows) => rows.every((row) => row?.version === 1),
      { what: 'the replicas to have version 1' },
    );
    await setReplay(true);
    try {
      await fn();
    } finally {
      await setReplay(false);
    }
  }

  it('should not bring a deleted key back once its tombstone expired', async () => {
    const k = key('deleted');
    await withReplicasBehind(k, 'before', async () => {
      expect((await del(k)).status).toBe(204);
      expect(await onReplicas(k)).toEqual(replicas.map(() => ({ version: 1, deleted: false })));
      // The tombstone expires (60 s in the stack; removed here).
      await redis.del(entryKey(k));

      for (let i = 0; i < 10; i++) {
        const read = await call('GET', `/v1/kv/${k}`);
        expect(read).toEqual({
          status: 404,
          json: problem(404, 'key-not-found', 'Key not found', `no value is stored under key "${k}"`, `/v1/kv/${k}`),
        });
      }
      const cached = await redis.hgetall(entryKey(k));
      expect(cached.s === undefined || (cached.s === 'd' && cached.v === '2')).toBe(true);
    });
  });

  it('should not answer or cache an older version once the newer value expired', async () => {
    const k = key('updated');
    await withReplicasBehind(k, 'one', async () => {
      expect((await put(k, 'two')).status).toBe(200);
      await redis.del(entryKey(k));

      for (let i = 0; i < 10; i++) {
        expect(await call('GET', `/v1/kv/${k}`)).toEqual({
          status: 200,
          json: { key: k, value: 'two', version: 2, updatedAt: ISO },
        });
      }
      expect(await redis.hget(entryKey(k), 'v')).toBe('2');
    });
  });
});
