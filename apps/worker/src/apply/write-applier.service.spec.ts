import { describe, expect, it, vi } from 'vitest';
import type { Cluster } from 'ioredis';
import { CacheReplicationError, type CommittedEntry, type KvCache } from '@keyflow/cache';
import type { WriteMessage } from '@keyflow/contracts';
import type { KvEntry, KvRepository, OperationRepository, WriteOp } from '@keyflow/db';
import { WriteApplier } from './write-applier.service';

const put = (id: string, value: unknown): WriteMessage => ({
  v: 1,
  id,
  key: 'k',
  type: 'put',
  value,
  acceptedAt: '2026-11-23T10:00:00.000Z',
});

function setup(applyBatch: (ops: WriteOp[]) => Promise<unknown>) {
  const repository = { applyBatch: vi.fn(applyBatch) };
  const operations = { recordFailed: vi.fn(() => Promise.resolve()) };
  const committed: CommittedEntry[][] = [];
  const cache = {
    commit: vi.fn((entries: CommittedEntry[]) => {
      committed.push(entries);
      return Promise.resolve({ outOfMemory: [] as string[] });
    }),
  };
  // The operation records (`op:<id>`) in Redis: what is set, with which TTL.
  const records = new Map<string, { value: string; ttlSeconds: number }>();
  const redis = {
    failing: false,
    set: vi.fn((key: string, value: string, _ex: 'EX', ttlSeconds: number) => {
      if (redis.failing) return Promise.reject(new Error('CLUSTERDOWN The cluster is down'));
      records.set(key, { value, ttlSeconds });
      return Promise.resolve('OK');
    }),
  };
  const applier = new WriteApplier(
    repository as unknown as KvRepository,
    operations as unknown as OperationRepository,
    cache as unknown as KvCache,
    redis as unknown as Cluster,
  );
  return { applier, repository, cache, committed, redis, records };
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
      await applier.updateCache([entry('a', 3), entry('b', 2, true)]);
      expect(committed).toEqual([
        [
          { key: 'a', entry: { state: 'present', version: 3, valueJson: '3', updatedAt: 't' } },
          { key: 'b', entry: { state: 'deleted', version: 2, updatedAt: 't' } },
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
