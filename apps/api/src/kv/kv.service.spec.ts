import { describe, expect, it, vi } from 'vitest';
import type { CachedEntry, IdempotencyStore, KvCache, OperationTracker } from '@keyflow/cache';
import { DomainError, ErrorCode, type WriteMessage } from '@keyflow/contracts';
import type { KvEntry, KvRepository, OperationRepository } from '@keyflow/db';
import type { WritePublisher } from '@keyflow/messaging';
import { KvService } from './kv.service';
import type { MetricsService } from '../metrics/metrics.service';
import type { OperationWaiter } from './operation-waiter.service';

const entry: KvEntry = {
  key: 'k',
  valueJson: '{"a":1}',
  version: 3,
  deleted: false,
  updatedAt: '2026-11-23T10:00:00.000Z',
};

function setup({
  cached,
  cacheFails = false,
  db = entry,
}: { cached?: CachedEntry; cacheFails?: boolean; db?: KvEntry } = {}) {
  const cache = {
    get: vi.fn(() => (cacheFails ? Promise.reject(new Error('Command timed out')) : Promise.resolve(cached))),
    setIfNewer: vi.fn(() => Promise.resolve(true)),
  };
  const repository = { find: vi.fn(() => Promise.resolve(db)) };
  const published: WriteMessage[] = [];
  const publisher = {
    publish: vi.fn((m: WriteMessage) => {
      published.push(m);
      return Promise.resolve();
    }),
  };
  const tracker = { markAccepted: vi.fn(() => Promise.resolve()) };
  const claims = new Map<string, { fingerprint: string; operationId: string }>();
  const idempotency = {
    claim: vi.fn((key: string, record: { fingerprint: string; operationId: string }) => {
      const previous = claims.get(key);
      if (!previous) claims.set(key, record);
      return Promise.resolve(previous);
    }),
    release: vi.fn(() => Promise.resolve()),
  };
  const operations = { find: vi.fn(() => Promise.resolve(undefined)) };
  const waiter = { replyQueue: 'replies', waitFor: vi.fn() };
  const metrics = { cache: { inc: vi.fn() }, publishConfirm: { startTimer: () => () => 0 } };
  const service = new KvService(
    cache as unknown as KvCache,
    repository as unknown as KvRepository,
    publisher as unknown as WritePublisher,
    tracker as unknown as OperationTracker,
    idempotency as unknown as IdempotencyStore,
    operations as unknown as OperationRepository,
    waiter as unknown as OperationWaiter,
    metrics as unknown as MetricsService,
  );
  return { service, cache, repository, publisher, published, tracker, idempotency, waiter };
}

describe(KvService.name, () => {
  describe('get', () => {
    it('should answer from the cache without touching the database', async () => {
      const { service, repository } = setup({
        cached: { state: 'present', version: 2, valueJson: '"x"', updatedAt: 't' },
      });
      await expect(service.get('k')).resolves.toEqual({
        key: 'k',
        valueJson: '"x"',
        version: 2,
        updatedAt: 't',
        source: 'cache',
      });
      expect(repository.find).not.toHaveBeenCalled();
    });

    it('should read the database on a miss and fill the cache with the version', async () => {
      const { service, cache } = setup();
      await expect(service.get('k')).resolves.toMatchObject({ version: 3, source: 'database' });
      expect(cache.setIfNewer).toHaveBeenCalledWith('k', {
        state: 'present',
        version: 3,
        valueJson: '{"a":1}',
        updatedAt: entry.updatedAt,
      });
    });

    it('should degrade to the database when the cache errors, without filling it', async () => {
      const { service, cache } = setup({ cacheFails: true });
      await expect(service.get('k')).resolves.toMatchObject({ version: 3, source: 'database' });
      expect(cache.setIfNewer).not.toHaveBeenCalled();
    });

    it('should answer not found for tombstones and cache unknown keys negatively', async () => {
      const tomb = setup({ cached: { state: 'deleted', version: 4, updatedAt: 't' } });
      await expect(tomb.service.get('k')).rejects.toMatchObject({ code: ErrorCode.KEY_NOT_FOUND });

      const unknown = setup({ db: undefined as unknown as KvEntry });
      unknown.repository.find.mockResolvedValueOnce(undefined as unknown as KvEntry);
      await expect(unknown.service.get('k')).rejects.toBeInstanceOf(DomainError);
      expect(unknown.cache.setIfNewer).toHaveBeenCalledWith('k', { state: 'missing', version: 0 });
    });

    it('should read the primary and skip the cache for strong reads', async () => {
      const { service, cache, repository } = setup({
        cached: { state: 'present', version: 1, valueJson: '1', updatedAt: 't' },
      });
      await expect(service.get('k', { strong: true })).resolves.toMatchObject({ version: 3 });
      expect(cache.get).not.toHaveBeenCalled();
      expect(repository.find).toHaveBeenCalledWith('k', { strong: true });
    });
  });

  describe('put', () => {
    it('should publish a versioned message and answer accepted', async () => {
      const { service, published, tracker } = setup();
      const result = await service.put('k', { a: 1 });
      expect(result).toEqual({
        kind: 'accepted',
        accepted: { operationId: expect.stringMatching(/^[0-9a-f-]{36}$/), key: 'k', status: 'accepted' },
        replayed: false,
      });
      const id = result.kind === 'accepted' ? result.accepted.operationId : '';
      expect(published).toEqual([{ v: 1, id, key: 'k', type: 'put', value: { a: 1 }, acceptedAt: expect.any(String) }]);
      expect(tracker.markAccepted).toHaveBeenCalledOnce();
    });

    it('should refuse values over 1 MiB before publishing', () => {
      const { service, publisher } = setup();
      expect(() => service.put('k', 'x'.repeat(1024 * 1024))).toThrow(DomainError);
      expect(publisher.publish).not.toHaveBeenCalled();
    });

    it('should carry the condition to the worker', async () => {
      const { service, published } = setup();
      await service.put('k', 1, { waitMs: 0, condition: { kind: 'version', version: 3 } });
      expect(published[0]?.condition).toEqual({ kind: 'version', version: 3 });
    });

    it('should publish once for a repeated idempotent request and refuse the key for another request', async () => {
      const { service, publisher } = setup();
      const first = await service.put('k', { a: 1 }, { waitMs: 0, idempotencyKey: 'abc' });
      const again = await service.put('k', { a: 1 }, { waitMs: 0, idempotencyKey: 'abc' });
      expect(publisher.publish).toHaveBeenCalledOnce();
      expect(again).toEqual({ ...first, replayed: true });
      expect(again.kind).toBe('accepted');
      await expect(service.put('k', { a: 2 }, { waitMs: 0, idempotencyKey: 'abc' })).rejects.toMatchObject({
        code: ErrorCode.IDEMPOTENCY_KEY_REUSED,
      });
    });

    it('should release the idempotency key when the broker does not confirm', async () => {
      const { service, publisher, idempotency } = setup();
      publisher.publish.mockRejectedValueOnce(new DomainError(ErrorCode.BROKER_UNAVAILABLE, 'no confirm'));
      await expect(service.put('k', 1, { waitMs: 0, idempotencyKey: 'xyz' })).rejects.toBeInstanceOf(DomainError);
      expect(idempotency.release).toHaveBeenCalledWith('xyz', expect.any(String));
    });

    it('should not answer accepted when the broker does not confirm', async () => {
      const { service, publisher, tracker } = setup();
      publisher.publish.mockRejectedValueOnce(new DomainError(ErrorCode.BROKER_UNAVAILABLE, 'no confirm'));
      await expect(service.delete('k')).rejects.toMatchObject({ code: ErrorCode.BROKER_UNAVAILABLE });
      expect(tracker.markAccepted).not.toHaveBeenCalled();
    });
  });
});
