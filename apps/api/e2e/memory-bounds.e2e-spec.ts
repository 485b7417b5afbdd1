import { randomUUID } from 'node:crypto';
import Redis, { Cluster } from 'ioredis';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayRequest, readStack, redisNodes, type StackInfo, redisLogin } from '@keyflow/testing';

/**
 * What keeps Redis memory bounded without evicting anything (issue 13, item 7): every node runs with a memory
 * limit and `noeviction`; an operation's `op:` record is cut to a minute once applied; a key the gateway made up
 * is kept ten minutes, a client's own 24 hours.
 */
let stack: StackInfo;
let redis: Cluster;
/** Idempotency-Keys are kept per user (issue 16): `idem:<user id>:<key>`; the suite writes as the stack's admin. */
let adminId: string;
const run = randomUUID().slice(0, 8);

function put(k: string, headers: Record<string, string>) {
  return gatewayRequest('PUT', `/v1/kv/${k}`, { body: { value: 1 }, headers, stack, timeoutMs: 60_000 });
}

describe('memory bounds (e2e)', () => {
  beforeAll(async () => {
    stack = readStack();
    redis = new Cluster(redisNodes(stack), { redisOptions: redisLogin('admin', stack) });
    await redis.ping();
    const pool = new Pool({ connectionString: stack.db.write, max: 1 });
    try {
      const { rows } = await pool.query<{ id: string }>("SELECT id::TEXT AS id FROM users WHERE username = 'admin'");
      adminId = rows[0]?.id ?? '';
    } finally {
      await pool.end();
    }
    expect(adminId).not.toBe('');
  });

  afterAll(() => {
    redis?.disconnect();
  });

  it('should run every Redis node with a memory limit that evicts nothing', async () => {
    for (const node of redisNodes(stack)) {
      const direct = new Redis({ ...node, lazyConnect: true, ...redisLogin('admin', stack) });
      try {
        await direct.connect();
        expect(await direct.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
        const [, limit] = (await direct.config('GET', 'maxmemory')) as [string, string];
        expect(Number(limit)).toBeGreaterThan(0);
      } finally {
        direct.disconnect();
      }
    }
  });

  it('should keep an applied operation’s record a minute at most, and a client’s Idempotency-Key a day', async () => {
    const k = `mb-${run}-applied`;
    const applied = await put(k, { prefer: 'wait=10', 'idempotency-key': `mb-${run}-client` });
    expect(applied.status).toBe(201);
    const ttl = await redis.ttl(`op:${String(applied.json.operationId)}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
    const idemTtl = await redis.ttl(`idem:${adminId}:mb-${run}-client`);
    expect(idemTtl).toBeGreaterThan(3_600);
    expect(idemTtl).toBeLessThanOrEqual(86_400);
  });

  it('should keep a key the gateway made up for ten minutes at most', async () => {
    const requestId = randomUUID().replaceAll('-', '');
    // The gateway's own key for a write sent without one is gw-<request id>; a client may repeat it after a 502/504.
    const accepted = await put(`mb-${run}-gw`, { 'idempotency-key': `gw-${requestId}` });
    expect(accepted.status).toBe(202);
    const ttl = await redis.ttl(`idem:${adminId}:gw-${requestId}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600);
  });
});
