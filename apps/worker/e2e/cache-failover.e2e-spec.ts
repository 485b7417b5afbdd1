import { randomUUID } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  killProcess,
  pollUntil,
  readStack,
  redisNodes,
  startProcess,
  tryGatewayRequest,
  type StackInfo,
  redisLogin,
} from '@keyflow/testing';

/**
 * The cache never goes backwards across a Redis master failover (issue 13, item 6). Keys whose cache entries live
 * on one master are written twice; the moment the second writes are applied (`Prefer: wait` answers only after the
 * worker updated the cache), that master is SIGKILLed and its replica promoted. Before the fix the replica could
 * lack the newest update and serve version 1 for an hour; now the worker waits for the replica (WAIT) before it
 * acks, so every key reads version 2, from the cache, through the failover and after it.
 */
let stack: StackInfo;
let redis: Cluster;
let killed: string | undefined;
const run = randomUUID().slice(0, 8);

/** Through the gateway; a refused or cut connection counts as status 0 (the node it needed was down). */
function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return tryGatewayRequest(method, path, { body, headers, stack, timeoutMs: 20_000 });
}

/** The cache entry, as KvCache names it. */
const entryKey = (k: string) => `kv:{@${k}}`;

describe('cache across a Redis master failover (e2e)', () => {
  beforeAll(async () => {
    stack = readStack();
    redis = new Cluster(redisNodes(stack), { redisOptions: redisLogin('admin', stack) });
    await redis.ping();
  });

  afterAll(async () => {
    // The supervisor restarts the killed node, which rejoins as a replica of the promoted one.
    if (killed) await startProcess(killed);
    redis?.disconnect();
  });

  it('should serve the newest version after the master holding it dies right after the update', async () => {
    // One master and 30 keys whose entries it holds.
    const slots = await redis.cluster('SLOTS');
    const [start, end, [host, port] = ['', 0]] = slots[0] ?? [0, 0];
    const keys: string[] = [];
    for (let i = 0; keys.length < 30; i++) {
      const k = `cf-${run}-${i}`;
      const slot = calculateSlot(entryKey(k));
      if (slot >= start && slot <= end) keys.push(k);
    }
    const put = (k: string, value: string) => call('PUT', `/v1/kv/${k}`, { value }, { prefer: 'wait=15' });
    expect((await Promise.all(keys.map((k) => put(k, 'one')))).map((r) => r.status)).toEqual(keys.map(() => 201));
    const second = await Promise.all(keys.map((k) => put(k, 'two')));
    killed = `redis-${port}`;
    await killProcess(killed, 'SIGKILL');
    expect(second.map((r) => [r.status, r.json.version])).toEqual(keys.map(() => [200, 2]));
    expect(host).not.toBe('');

    // While the slots fail over, reads fall back to the database; then the promoted replica serves them.
    await pollUntil(
      async () => {
        const reads = await Promise.all(keys.map((k) => call('GET', `/v1/kv/${k}`)));
        const cached = await Promise.all(keys.map((k) => redis.hget(entryKey(k), 'v').catch(() => 'unreadable')));
        return { reads, cached };
      },
      ({ reads, cached }) => reads.every((r) => r.status === 200) && cached.every((v) => v === '2'),
      { what: 'the promoted replica to serve every key at version 2', timeoutMs: 60_000, intervalMs: 250 },
    );
    // The promoted replica had every update: nothing older is cached now, nor later.
    for (let i = 0; i < 5; i++) {
      const reads = await Promise.all(keys.map((k) => call('GET', `/v1/kv/${k}`)));
      expect(reads.map((r) => [r.status, r.json.value, r.json.version])).toEqual(keys.map(() => [200, 'two', 2]));
    }
  }, 180_000);
});
