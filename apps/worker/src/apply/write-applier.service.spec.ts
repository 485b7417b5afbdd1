import { describe, expect, it, vi } from 'vitest';
import type { Cluster } from 'ioredis';
import { CacheReplicationError, type CommittedEntry, type KvCache } from '@keyflow/cache';
import type { WriteMessage } from '@keyflow/contracts';
import {
  ReplayRefusedError,
  type KvEntry,
  type KvRepository,
  type OperationRepository,
  type WriteOp,
} from '@keyflow/db';
import { failedAttemptsKey } from './failed-attempts.util';
import { WriteApplier } from './write-applier.service';

const put = (id: string, value: unknown): WriteMessage => ({
  v: 1,
  id,
  key: 'k',
  type: 'put',
  value,
  acceptedAt: '2026-11-23T10:00:00.000Z',
});

const MAX_APPLY_ATTEMPTS = 3;

/** A Redis stand-in shared by "restarts" of the applier: the `op:` records and the failed-attempt counters. */
function fakeRedis() {
  const records = new Map<string, { value: string; ttlSeconds: number }>();
  const counters = new Map<string, number>();
  const redis = {
    failing: false,
    records,
    counters,
    set: vi.fn((key: string, value: string, _ex: 'EX', ttlSeconds: number) => {
      if (redis.failing) return Promise.reject(new Error('CLUSTERDOWN The cluster is down'));
      records.set(key, { value, ttlSeconds });
      return Promise.resolve('OK');
    }),
    incr: vi.fn((key: string) => {
      if (redis.failing) return Promise.reject(new Error('CLUSTERDOWN The cluster is down'));
      counters.set(key, (counters.get(key) ?? 0) + 1);
      return Promise.resolve(counters.get(key));
    }),
    expire: vi.fn(() => Promise.resolve(1)),
    del: vi.fn((key: string) => {
      if (redis.failing) return Promise.reject(new Error('CLUSTERDOWN The cluster is down'));
      return Promise.resolve(Number(counters.delete(key)));
    }),
  };
  return redis;
}

function setup(applyBatch: (ops: WriteOp[]) => Promise<unknown>, redis = fakeRedis()) {
  const repository = { applyBatch: vi.fn(applyBatch) };
  const operations = { recordFailed: vi.fn(() => Promise.resolve()) };
  const committed: CommittedEntry[][] = [];
  const cache = {
    commit: vi.fn((entries: CommittedEntry[]) => {
      committed.push(entries);
      return Promise.resolve({ outOfMemory: [] as string[] });
    }),
  };
  const applier = new WriteApplier(
    repository as unknown as KvRepository,
    operations as unknown as OperationRepository,
    cache as unknown as KvCache,
    redis as unknown as Cluster,
    { MAX_APPLY_ATTEMPTS },
  );
  // The operation records (`op:<id>`) in Redis: what is set, with which TTL.
  return { applier, repository, cache, committed, redis, records: redis.records };
}

const applied = (ops: WriteOp[]) =>
  Promise.resolve({
    ops: ops.map((op) => ({ ...op, status: 'applied', version: 1, created: true, duplicate: false })),
    entries: [],
  });

describe(WriteApplier.name, () => {
  describe('applyToDatabase', () => {
    it('should apply a batch in one call with the values as JSON text', async () => {
      const { applier, repository } = setup(() => Promise.resolve({ ops: [], entries: [] }));
      await applier.applyToDatabase([put('a', { x: 1 }), put('b', null)]);
      expect(repository.applyBatch).toHaveBeenCalledOnce();
      expect(repository.applyBatch.mock.calls[0]?.[0].map((op) => op.valueJson)).toEqual(['{"x":1}', 'null']);
    });

    it("should pass a put's expiresAt and an expiry delete's cause and condition to the repository", async () => {
      const { applier, repository } = setup(() => Promise.resolve({ ops: [], entries: [] }));
      const expiry: WriteMessage = {
        v: 1,
        id: 'e',
        key: 'k',
        type: 'delete',
        condition: { kind: 'version', version: 1 },
        acceptedAt: '2026-11-23T10:00:03.000Z',
        cause: 'expire',
      };
      await applier.applyToDatabase([{ ...put('a', 1), expiresAt: '2026-11-23T10:00:02.000Z' }, put('b', 2), expiry]);
      expect(repository.applyBatch.mock.calls[0]?.[0]).toEqual([
        {
          id: 'a',
          key: 'k',
          type: 'put',
          valueJson: '1',
          acceptedAt: put('a', 1).acceptedAt,
          expiresAt: '2026-11-23T10:00:02.000Z',
        },
        { id: 'b', key: 'k', type: 'put', valueJson: '2', acceptedAt: put('b', 2).acceptedAt },
        {
          id: 'e',
          key: 'k',
          type: 'delete',
          condition: { kind: 'version', version: 1 },
          acceptedAt: '2026-11-23T10:00:03.000Z',
          cause: 'expire',
        },
      ]);
    });

    it('should rethrow transient errors for the caller to retry the batch', async () => {
      const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      const { applier } = setup(() => Promise.reject(down));
      await expect(applier.applyToDatabase([put('a', 1), put('b', 2)])).rejects.toBe(down);
    });

    it('should isolate an operation the database refuses for good', async () => {
      const refused = Object.assign(new Error('value out of range'), { code: '22003' });
      const { applier, repository } = setup((ops) =>
        ops.some((op) => op.id === 'bad')
          ? Promise.reject(refused)
          : Promise.resolve({ ops: ops.map((op) => ({ ...op, version: 1, duplicate: false })), entries: [] }),
      );
      const outcome = await applier.applyToDatabase([put('a', 1), put('bad', 2), put('c', 3)]);
      expect(outcome.applied.map((a) => a.id)).toEqual(['a', 'c']);
      expect(outcome.rejected).toEqual([
        { message: put('bad', 2), reason: 'the database rejected the write: value out of range' },
      ]);
      expect(repository.applyBatch).toHaveBeenCalledTimes(4);
    });

    it('should reject at once a write the database refuses for good, whatever the kind (data, constraint, limits)', async () => {
      for (const code of ['22P05', '23505', '54001']) {
        const refused = Object.assign(new Error(`refused ${code}`), { code });
        const { applier } = setup(() => Promise.reject(refused));
        const outcome = await applier.applyToDatabase([put('bad', 1)]);
        expect(outcome.rejected.map((r) => r.reason)).toEqual([`the database rejected the write: refused ${code}`]);
        expect(outcome.retry).toEqual([]);
      }
    });

    it('should reject at once a dead-lettered write whose replay the database refuses', async () => {
      const { applier } = setup(() => Promise.reject(new ReplayRefusedError('r', 'its key moved on')));
      const outcome = await applier.applyToDatabase([put('r', 1)]);
      expect(outcome.rejected.map((r) => r.reason)).toEqual([
        'the database rejected the write: replay of operation r refused: its key moved on',
      ]);
    });
  });

  describe('applyToDatabase and failed attempts', () => {
    const flaky = (failing: Set<string>) => (ops: WriteOp[]) =>
      ops.some((op) => failing.has(op.id))
        ? Promise.reject(new Error('Cannot read properties of undefined'))
        : applied(ops);

    it('should apply the writes before a write whose attempt failed, and hand back that write and the rest to retry', async () => {
      const { applier } = setup(flaky(new Set(['b'])));
      const outcome = await applier.applyToDatabase([put('a', 1), put('b', 2), put('c', 3)]);
      expect(outcome.applied.map((a) => a.id)).toEqual(['a']);
      expect(outcome.rejected).toEqual([]);
      expect(outcome.retry.map((m) => m.id)).toEqual(['b', 'c']);
    });

    it(`should dead-letter a write only once ${MAX_APPLY_ATTEMPTS} attempts to apply it failed`, async () => {
      const { applier } = setup(flaky(new Set(['b'])));
      let outcome = await applier.applyToDatabase([put('b', 2), put('c', 3)]);
      for (let attempt = 2; attempt <= MAX_APPLY_ATTEMPTS; attempt++) {
        expect(outcome.rejected, `attempt ${attempt - 1}`).toEqual([]);
        outcome = await applier.applyToDatabase(outcome.retry);
      }
      expect(outcome.rejected).toEqual([
        {
          message: put('b', 2),
          reason: `applying the write failed ${MAX_APPLY_ATTEMPTS} times; the last time: Cannot read properties of undefined`,
        },
      ]);
      expect(outcome.applied.map((a) => a.id)).toEqual(['c']);
      expect(outcome.retry).toEqual([]);
    });

    it('should keep counting across a restart of the worker (the count is in Redis)', async () => {
      const redis = fakeRedis();
      const first = setup(flaky(new Set(['b'])), redis).applier;
      for (let i = 1; i < MAX_APPLY_ATTEMPTS; i++) await first.applyToDatabase([put('b', 2)]);
      const restarted = setup(flaky(new Set(['b'])), redis).applier;
      const outcome = await restarted.applyToDatabase([put('b', 2)]);
      expect(outcome.rejected.map((r) => r.message.id)).toEqual(['b']);
      // Forgotten once dead-lettered: an operator's replay starts from zero.
      expect(redis.counters.has(failedAttemptsKey('b'))).toBe(false);
    });

    it('should count in memory while Redis is unreachable', async () => {
      const { applier, redis } = setup(flaky(new Set(['b'])));
      redis.failing = true;
      let outcome = await applier.applyToDatabase([put('b', 2)]);
      for (let i = 1; i < MAX_APPLY_ATTEMPTS; i++) outcome = await applier.applyToDatabase(outcome.retry);
      expect(outcome.rejected.map((r) => r.message.id)).toEqual(['b']);
    });

    it('should never count a transient failure (the database unreachable): the batch is retried as a whole', async () => {
      const down = Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
      const { applier, redis } = setup(() => Promise.reject(down));
      for (let i = 0; i < MAX_APPLY_ATTEMPTS + 2; i++) {
        await expect(applier.applyToDatabase([put('a', 1)])).rejects.toBe(down);
      }
      expect(redis.incr).not.toHaveBeenCalled();
    });

    it('should forget the count of a write that was applied after failed attempts', async () => {
      const failing = new Set(['b']);
      const { applier, redis } = setup(flaky(failing));
      await applier.applyToDatabase([put('b', 2)]);
      expect(redis.counters.get(failedAttemptsKey('b'))).toBe(1);
      failing.clear();
      expect((await applier.applyToDatabase([put('b', 2)])).applied.map((a) => a.id)).toEqual(['b']);
      expect(redis.counters.has(failedAttemptsKey('b'))).toBe(false);
    });
  });
  describe('applyToDatabase and the operation records', () => {
    it('should keep the records of operations it applied only briefly: the database answers for them now', async () => {
      const { applier, records } = setup(applied);
      await applier.applyToDatabase([put('a', 1), put('b', 2)]);
      expect(
        [...records].map(([key, { value, ttlSeconds }]) => [key, JSON.parse(value) as unknown, ttlSeconds]),
      ).toEqual([
        ['op:a', { id: 'a', key: 'k', type: 'put', acceptedAt: '2026-11-23T10:00:00.000Z' }, 60],
        ['op:b', { id: 'b', key: 'k', type: 'put', acceptedAt: '2026-11-23T10:00:00.000Z' }, 60],
      ]);
    });

    it('should still apply the batch when the records cannot be shortened (they expire on their own)', async () => {
      const { applier, redis } = setup(applied);
      redis.failing = true;
      const outcome = await applier.applyToDatabase([put('a', 1)]);
      expect(outcome.applied.map((a) => a.id)).toEqual(['a']);
    });

    it('should keep the record of a dead-lettered operation only briefly once its failure is recorded', async () => {
      const { applier, records } = setup(applied);
      await applier.recordFailed(put('bad', 1), 'the database rejected the write');
      expect(records.get('op:bad')?.ttlSeconds).toBe(60);
    });
  });

  describe('updateCache', () => {
    const entry = (key: string, version: number, deleted = false): KvEntry => ({
      key,
      valueJson: deleted ? null : String(version),
      version,
      deleted,
      updatedAt: 't',
    });

    it('should commit the batch to the cache as the database holds it', async () => {
      const { applier, committed } = setup(applied);
      await applier.updateCache([entry('a', 3), entry('b', 2, true), { ...entry('c', 1), expiresAt: 'x' }]);
      expect(committed).toEqual([
        [
          { key: 'a', entry: { state: 'present', version: 3, valueJson: '3', updatedAt: 't' } },
          { key: 'b', entry: { state: 'deleted', version: 2, updatedAt: 't' } },
          { key: 'c', entry: { state: 'present', version: 1, valueJson: '1', updatedAt: 't', expiresAt: 'x' } },
        ],
      ]);
    });

    it('should reject while no Redis replica has the update, so the batch is not acked and is retried', async () => {
      const { applier, cache } = setup(applied);
      const lagging = new CacheReplicationError('127.0.0.1:7001', 'no replica acknowledged');
      cache.commit.mockRejectedValueOnce(lagging);
      await expect(applier.updateCache([entry('a', 3)])).rejects.toBe(lagging);
    });
  });
});
