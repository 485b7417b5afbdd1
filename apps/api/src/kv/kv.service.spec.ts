import { describe, expect, it, vi } from 'vitest';
import type {
  AcceptedOperation,
  CachedEntry,
  FillResult,
  IdempotencyRecord,
  IdempotencyStore,
  KvCache,
  OperationTracker,
} from '@keyflow/cache';
import { DomainError, ErrorCode, type WriteMessage } from '@keyflow/contracts';
import type { KvEntry, KvRepository, OperationRecord, OperationRepository } from '@keyflow/db';
import type { WritePublisher } from '@keyflow/messaging';
import { toProblem } from '../common/problem-details.util';
import type { MetricsService } from '../metrics/metrics.service';
import { OperationsService } from '../operations/operations.service';
import { KvService } from './kv.service';
import type { OperationWaiter } from './operation-waiter.service';

/** Sees every operation: these specs are about when one is known, not whose it is. */
const ADMIN = { userId: '2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f', admin: true };
const entry: KvEntry = {
  key: 'k',
  valueJson: '{"a":1}',
  version: 3,
  deleted: false,
  updatedAt: '2026-11-23T10:00:00.000Z',
};

/**
 * How the fake broker answers one publish: confirm it, give up on it (a confirm timeout: the message may or may
 * not be in the queue), or leave it unconfirmed until the test settles it through `unconfirmed`.
 */
type Confirm = 'confirm' | 'timeout' | 'later';

function setup({
  cached,
  cacheFails = false,
  db = entry,
}: { cached?: CachedEntry; cacheFails?: boolean; db?: KvEntry } = {}) {
  const cache = {
    get: vi.fn(() => (cacheFails ? Promise.reject(new Error('Command timed out')) : Promise.resolve(cached))),
    fill: vi.fn((_key: string, _entry: CachedEntry) => Promise.resolve<FillResult>('filled')),
  };
  const repository = { find: vi.fn(() => Promise.resolve(db)) };
  // A fake publisher: every publish is recorded; `confirms` scripts the broker's answers (default: confirm).
  const published: WriteMessage[] = [];
  const confirms: Confirm[] = [];
  const unconfirmed: Array<{ confirm: () => void; timeOut: () => void }> = [];
  const timedOut = (m: WriteMessage) =>
    new DomainError(ErrorCode.BROKER_UNAVAILABLE, 'the message broker did not confirm the write in time', {
      operationId: m.id,
    });
  const publisher = {
    publish: vi.fn((m: WriteMessage, _options?: { replyTo?: string; valueJson?: string }) => {
      published.push(structuredClone(m));
      switch (confirms.shift() ?? 'confirm') {
        case 'confirm':
          return Promise.resolve();
        case 'timeout':
          return Promise.reject(timedOut(m));
        case 'later':
          return new Promise<void>((resolve, reject) => {
            unconfirmed.push({ confirm: resolve, timeOut: () => reject(timedOut(m)) });
          });
      }
    }),
  };
  const accepted = new Map<string, AcceptedOperation>();
  const tracker = {
    failWrites: false,
    markAccepted: vi.fn((op: AcceptedOperation) => {
      if (tracker.failWrites) return Promise.reject(new Error('CLUSTERDOWN'));
      if (!accepted.has(op.id)) accepted.set(op.id, op);
      return Promise.resolve();
    }),
    findAccepted: vi.fn((id: string) => Promise.resolve(accepted.get(id))),
  };
  const claims = new Map<string, IdempotencyRecord>();
  const idempotency = {
    failClaims: false,
    claim: vi.fn((key: string, record: IdempotencyRecord, scope = '') => {
      if (idempotency.failClaims) {
        return Promise.reject(new Error("OOM command not allowed when used memory > 'maxmemory'."));
      }
      const previous = claims.get(`${scope}:${key}`);
      if (!previous) claims.set(`${scope}:${key}`, record);
      return Promise.resolve(previous);
    }),
  };
  const finished = new Map<string, OperationRecord>();
  const operations = { find: vi.fn((id: string) => Promise.resolve(finished.get(id))) };
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
  const lookup = new OperationsService(
    operations as unknown as OperationRepository,
    tracker as unknown as OperationTracker,
  );
  return {
    service,
    lookup,
    cache,
    repository,
    publisher,
    published,
    confirms,
    unconfirmed,
    tracker,
    accepted,
    idempotency,
    claims,
    operations,
    finished,
    waiter,
  };
}

/** Whether `promise` has settled by the time every already-queued callback ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected the write to be refused'),
    (err: unknown) => err,
  );
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
      expect(cache.fill).toHaveBeenCalledWith('k', {
        state: 'present',
        version: 3,
        valueJson: '{"a":1}',
        updatedAt: entry.updatedAt,
      });
    });

    it('should degrade to the database when the cache errors, without filling it', async () => {
      const { service, cache } = setup({ cacheFails: true });
      await expect(service.get('k')).resolves.toMatchObject({ version: 3, source: 'database' });
      expect(cache.fill).not.toHaveBeenCalled();
    });

    it('should answer not found for tombstones and cache unknown keys negatively', async () => {
      const tomb = setup({ cached: { state: 'deleted', version: 4, updatedAt: 't' } });
      await expect(tomb.service.get('k')).rejects.toMatchObject({ code: ErrorCode.KEY_NOT_FOUND });

      const unknown = setup({ db: undefined as unknown as KvEntry });
      unknown.repository.find.mockResolvedValueOnce(undefined as unknown as KvEntry);
      await expect(unknown.service.get('k')).rejects.toBeInstanceOf(DomainError);
      expect(unknown.cache.fill).toHaveBeenCalledWith('k', { state: 'missing', version: 0 });
    });

    it('should answer from the primary, not from a replica behind a version a worker committed', async () => {
      const { service, cache, repository } = setup();
      // The replica still has version 3; the cache's floor says version 4 was committed (and has expired since).
      cache.fill.mockResolvedValueOnce('below-floor');
      repository.find.mockResolvedValueOnce(entry).mockResolvedValueOnce({ ...entry, version: 4, valueJson: '"new"' });
      await expect(service.get('k')).resolves.toMatchObject({ version: 4, valueJson: '"new"', source: 'database' });
      expect(repository.find.mock.calls).toEqual([
        ['k', { strong: false }],
        ['k', { strong: true }],
      ]);
      expect(cache.fill).toHaveBeenLastCalledWith('k', expect.objectContaining({ version: 4 }));
    });

    it('should not bring a deleted key back from a lagging replica once its tombstone expired', async () => {
      const { service, cache, repository } = setup();
      cache.fill.mockResolvedValueOnce('below-floor');
      repository.find
        .mockResolvedValueOnce(entry)
        .mockResolvedValueOnce({ ...entry, version: 4, valueJson: null, deleted: true });
      await expect(service.get('k')).rejects.toMatchObject({ code: ErrorCode.KEY_NOT_FOUND });
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

  describe('get, of a key with a time to live', () => {
    const soon = () => new Date(Date.now() + 60_000).toISOString();
    const past = () => new Date(Date.now() - 1).toISOString();

    it('should answer with expiresAt until it passes, from the cache and from the database', async () => {
      const expiresAt = soon();
      const cached = setup({ cached: { state: 'present', version: 2, valueJson: '"x"', updatedAt: 't', expiresAt } });
      await expect(cached.service.get('k')).resolves.toEqual({
        key: 'k',
        valueJson: '"x"',
        version: 2,
        updatedAt: 't',
        expiresAt,
        source: 'cache',
      });
      const db = setup({ db: { ...entry, expiresAt } });
      await expect(db.service.get('k')).resolves.toMatchObject({ version: 3, expiresAt, source: 'database' });
      expect(db.cache.fill).toHaveBeenCalledWith('k', expect.objectContaining({ state: 'present', expiresAt }));
      await expect(db.service.get('k', { strong: true })).resolves.toMatchObject({ expiresAt });
    });

    it('should answer not found once expiresAt passed, before the expiry delete is applied, on every path', async () => {
      const cached = setup({
        cached: { state: 'present', version: 2, valueJson: '"x"', updatedAt: 't', expiresAt: past() },
      });
      await expect(cached.service.get('k')).rejects.toMatchObject({ code: ErrorCode.KEY_NOT_FOUND });
      expect(cached.repository.find).not.toHaveBeenCalled();

      const db = setup({ db: { ...entry, expiresAt: past() } });
      await expect(db.service.get('k')).rejects.toMatchObject({ code: ErrorCode.KEY_NOT_FOUND });
      await expect(db.service.get('k', { strong: true })).rejects.toMatchObject({ code: ErrorCode.KEY_NOT_FOUND });
    });
  });

  describe('put, with a time to live', () => {
    it('should publish expiresAt as the time the write was accepted plus ttl', async () => {
      const { service, published } = setup();
      await service.put('k', 1, { waitMs: 0, ttl: 2 });
      const [message] = published;
      expect(message?.expiresAt).toBe(new Date(Date.parse(message?.acceptedAt ?? '') + 2_000).toISOString());
      await service.put('k', 1);
      expect(published[1]).not.toHaveProperty('expiresAt');
    });

    it('should refuse a ttl that is not a whole number of seconds from 1 to 365 days, naming ttl', () => {
      const { service, publisher } = setup();
      for (const ttl of [0, -1, 1.5, '2', null, 31_536_001]) {
        const err = (() => {
          try {
            void service.put('k', 1, { waitMs: 0, ttl: ttl as number });
          } catch (e) {
            return e;
          }
          return undefined;
        })();
        expect(err, String(ttl)).toMatchObject({
          code: ErrorCode.INVALID_REQUEST,
          message: 'ttl must be a whole number of seconds from 1 to 31536000 (365 days), sent as a JSON number',
        });
      }
      expect(publisher.publish).not.toHaveBeenCalled();
    });

    it('should count a republished idempotent write’s expiry from its first acceptance, and tell ttls apart', async () => {
      const { service, published, confirms } = setup();
      confirms.push('timeout');
      await rejection(service.put('k', 1, { waitMs: 0, idempotencyKey: 'ttl', ttl: 30 }));
      await new Promise((resolve) => setTimeout(resolve, 5));
      await service.put('k', 1, { waitMs: 0, idempotencyKey: 'ttl', ttl: 30 });
      expect(published).toHaveLength(2);
      expect(published[1]).toEqual(published[0]);
      await expect(service.put('k', 1, { waitMs: 0, idempotencyKey: 'ttl', ttl: 31 })).rejects.toMatchObject({
        code: ErrorCode.IDEMPOTENCY_KEY_REUSED,
      });
      await expect(service.put('k', 1, { waitMs: 0, idempotencyKey: 'ttl' })).rejects.toMatchObject({
        code: ErrorCode.IDEMPOTENCY_KEY_REUSED,
      });
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

    it("should make the same Idempotency-Key from two users two requests, each user's operation theirs", async () => {
      const { service, published, lookup } = setup();
      const alice = { userId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', admin: false };
      const bob = { userId: '1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e', admin: false };
      const first = await service.put('k', 'alice', { waitMs: 0, idempotencyKey: 'shared', owner: alice.userId });
      const second = await service.put('k', 'bob', { waitMs: 0, idempotencyKey: 'shared', owner: bob.userId });
      expect([first.replayed, second.replayed]).toEqual([false, false]);
      expect(published.map((m) => [m.value, m.owner])).toEqual([
        ['alice', alice.userId],
        ['bob', bob.userId],
      ]);
      const [aliceOp, bobOp] = published.map((m) => m.id);
      expect(aliceOp).not.toBe(bobOp);
      await expect(lookup.find(aliceOp ?? '', alice)).resolves.toMatchObject({ id: aliceOp, status: 'accepted' });
      await expect(lookup.find(aliceOp ?? '', bob)).rejects.toMatchObject({ code: ErrorCode.OPERATION_NOT_FOUND });
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

    it('should answer 503 with the operation id, and not accepted, when the broker does not confirm', async () => {
      const { service, published, confirms, tracker, lookup } = setup();
      confirms.push('timeout');
      const err = await rejection(service.delete('k'));
      expect(toProblem(err)).toMatchObject({
        problem: { status: 503, operationId: published[0]?.id },
        unexpected: false,
      });
      expect(tracker.markAccepted).not.toHaveBeenCalled();
      // Not accepted, so not reported as accepted; once a worker applies it, the database answers.
      await expect(lookup.find(published[0]?.id ?? '', ADMIN)).rejects.toMatchObject({
        code: ErrorCode.OPERATION_NOT_FOUND,
      });
    });

    describe('when the outcome of an idempotent write is unknown', () => {
      it('should answer a repeat only once the same operation is confirmed, while the first publish is unconfirmed', async () => {
        const { service, published, confirms, unconfirmed, lookup } = setup();
        confirms.push('later', 'later');
        const first = service.put('k', { a: 1 }, { waitMs: 0, idempotencyKey: 'abc' });
        expect(await settled(first)).toBe(false);

        const repeat = service.put('k', { a: 1 }, { waitMs: 0, idempotencyKey: 'abc' });
        expect(await settled(repeat)).toBe(false);
        // The repeat re-sends the first attempt's operation, byte for byte: the worker applies an id once.
        expect(published).toHaveLength(2);
        expect(published[1]).toEqual(published[0]);

        // The first publish never confirms (its API died); the repeat's does.
        unconfirmed[1]?.confirm();
        const id = published[0]?.id ?? '';
        await expect(repeat).resolves.toEqual({
          kind: 'accepted',
          accepted: { operationId: id, key: 'k', status: 'accepted' },
          replayed: true,
        });
        await expect(lookup.find(id, ADMIN)).resolves.toMatchObject({ id, key: 'k', status: 'accepted' });
      });

      it('should refuse a repeat with 503 and the operation id when its own publish is not confirmed either', async () => {
        const { service, published, confirms, tracker } = setup();
        confirms.push('later', 'timeout');
        const first = service.put('k', 1, { waitMs: 0, idempotencyKey: 'abc' });
        expect(await settled(first)).toBe(false);
        const err = await rejection(service.put('k', 1, { waitMs: 0, idempotencyKey: 'abc' }));
        expect(toProblem(err).problem).toMatchObject({ status: 503, operationId: published[0]?.id });
        expect(tracker.markAccepted).not.toHaveBeenCalled();
      });

      it('should keep the operation id and the record when the confirm times out, and republish that id on a retry', async () => {
        const { service, published, confirms, claims, lookup } = setup();
        confirms.push('timeout');
        const err = await rejection(service.put('k', { a: 1 }, { waitMs: 0, idempotencyKey: 'xyz' }));
        const id = published[0]?.id ?? '';
        expect(toProblem(err).problem).toMatchObject({
          status: 503,
          operationId: id,
          detail: expect.stringContaining('same Idempotency-Key'),
        });
        expect(claims.get(':xyz')).toMatchObject({ operationId: id });

        const retry = await service.put('k', { a: 1 }, { waitMs: 0, idempotencyKey: 'xyz' });
        expect(retry).toEqual({
          kind: 'accepted',
          accepted: { operationId: id, key: 'k', status: 'accepted' },
          replayed: true,
        });
        expect(published).toHaveLength(2);
        expect(published[1]).toEqual(published[0]);
        await expect(lookup.find(id, ADMIN)).resolves.toMatchObject({ id, status: 'accepted' });

        // Confirmed now: later repeats answer from the record and publish nothing more.
        await service.put('k', { a: 1 }, { waitMs: 0, idempotencyKey: 'xyz' });
        expect(published).toHaveLength(2);
      });

      it('should still refuse a different request under a key whose write timed out', async () => {
        const { service, published, confirms } = setup();
        confirms.push('timeout');
        await rejection(service.put('k', 1, { waitMs: 0, idempotencyKey: 'xyz' }));
        await expect(service.put('k', 2, { waitMs: 0, idempotencyKey: 'xyz' })).rejects.toMatchObject({
          code: ErrorCode.IDEMPOTENCY_KEY_REUSED,
          details: { operationId: published[0]?.id },
        });
        expect(published).toHaveLength(1);
      });

      it('should wait for the outcome of a republished operation when the client waits', async () => {
        const { service, published, confirms, publisher, waiter } = setup();
        confirms.push('timeout');
        await rejection(service.put('k', 1, { waitMs: 0, idempotencyKey: 'w' }));
        const id = published[0]?.id ?? '';
        const outcome = { id, key: 'k', type: 'put' as const, status: 'applied' as const, version: 1, created: true };
        waiter.waitFor.mockReturnValueOnce({ outcome: Promise.resolve(outcome), cancel: vi.fn() });
        const retry = await service.put('k', 1, { waitMs: 5_000, idempotencyKey: 'w' });
        expect(retry).toEqual({ kind: 'finished', outcome, replayed: true });
        expect(waiter.waitFor).toHaveBeenCalledWith(id, 5_000);
        expect(publisher.publish).toHaveBeenLastCalledWith(
          published[0],
          expect.objectContaining({ replyTo: 'replies' }),
        );
      });

      it('should not republish an operation the database has finished, even when its tracking is gone', async () => {
        const { service, published, accepted, finished } = setup();
        const first = await service.put('k', 1, { waitMs: 0, idempotencyKey: 'done' });
        const id = published[0]?.id ?? '';
        accepted.delete(id);
        finished.set(id, {
          id,
          key: 'k',
          type: 'put',
          status: 'applied',
          version: 1,
          acceptedAt: published[0]?.acceptedAt ?? '',
          finishedAt: '2026-11-23T10:00:01.000Z',
        });
        await expect(service.put('k', 1, { waitMs: 0, idempotencyKey: 'done' })).resolves.toEqual({
          ...first,
          replayed: true,
        });
        expect(published).toHaveLength(1);
      });

      it('should answer 503 rather than guess when the database cannot say whether the operation finished', async () => {
        const { service, published, confirms, operations } = setup();
        confirms.push('timeout');
        await rejection(service.put('k', 1, { waitMs: 0, idempotencyKey: 'db' }));
        operations.find.mockRejectedValueOnce(
          Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        );
        const err = await rejection(service.put('k', 1, { waitMs: 0, idempotencyKey: 'db' }));
        expect(toProblem(err).problem).toMatchObject({ status: 503, operationId: published[0]?.id });
        expect(published).toHaveLength(1);
      });
    });

    describe('when the accepted operation cannot be recorded', () => {
      it('should answer 503 with the operation id instead of a 202 the operation lookup would answer 404 for', async () => {
        const { service, published, tracker, lookup } = setup();
        tracker.failWrites = true;
        const err = await rejection(service.put('k', 1));
        const id = published[0]?.id ?? '';
        expect(toProblem(err).problem).toMatchObject({ status: 503, operationId: id });
        await expect(lookup.find(id, ADMIN)).rejects.toMatchObject({ code: ErrorCode.OPERATION_NOT_FOUND });
      });

      it('should record the operation on a retry with the same key, and only then answer 202', async () => {
        const { service, published, tracker, lookup } = setup();
        tracker.failWrites = true;
        await rejection(service.put('k', 1, { waitMs: 0, idempotencyKey: 'trk' }));
        tracker.failWrites = false;
        const retry = await service.put('k', 1, { waitMs: 0, idempotencyKey: 'trk' });
        const id = published[0]?.id ?? '';
        expect(retry).toMatchObject({ kind: 'accepted', accepted: { operationId: id }, replayed: true });
        expect(published.map((m) => m.id)).toEqual([id, id]);
        await expect(lookup.find(id, ADMIN)).resolves.toMatchObject({ id, status: 'accepted' });
      });

      it('should answer every 202 it gives from the operation lookup', async () => {
        const { service, lookup } = setup();
        for (const write of [
          service.put('a', 1),
          service.delete('b'),
          service.put('c', 2, { waitMs: 0, idempotencyKey: 'i' }),
        ]) {
          const result = await write;
          const id = result.kind === 'accepted' ? result.accepted.operationId : '';
          await expect(lookup.find(id, ADMIN)).resolves.toMatchObject({ id, status: 'accepted' });
        }
      });
    });

    describe('when Redis is full (maxmemory with noeviction refuses writes)', () => {
      const oom = () => new Error("OOM command not allowed when used memory > 'maxmemory'.");

      it('should answer 503 with Retry-After, and publish nothing, when the idempotency key cannot be claimed', async () => {
        const { service, published, idempotency } = setup();
        idempotency.failClaims = true;
        const { problem, headers } = toProblem(
          await rejection(service.put('k', 1, { waitMs: 0, idempotencyKey: 'f' })),
        );
        expect(problem).toMatchObject({ status: 503 });
        expect(problem).not.toHaveProperty('operationId');
        expect(headers).toEqual({ 'retry-after': '1' });
        expect(published).toEqual([]);
      });

      it('should answer 503 with Retry-After and the operation id when the operation cannot be recorded', async () => {
        const { service, published, tracker } = setup();
        tracker.markAccepted.mockRejectedValueOnce(oom());
        const { problem, headers } = toProblem(await rejection(service.delete('k')));
        expect(problem).toMatchObject({ status: 503, operationId: published[0]?.id });
        expect(headers).toEqual({ 'retry-after': '1' });
      });
    });

    describe('when this instance holds as many waiters as it may', () => {
      it('should answer 202 at once instead of waiting, and ask for no reply', async () => {
        const { service, publisher, waiter } = setup();
        waiter.waitFor.mockReturnValueOnce(undefined);
        const result = await service.put('k', 1, { waitMs: 5_000 });
        expect(result).toMatchObject({ kind: 'accepted', replayed: false });
        expect(publisher.publish.mock.calls[0]?.[1]).not.toHaveProperty('replyTo');
      });
    });
  });
});
