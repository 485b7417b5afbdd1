import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { IdempotencyRecord, IdempotencyStore } from '@keyflow/cache';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import { parseBulkOperations } from './bulk-operations.util';
import { KvBulkService } from './kv-bulk.service';
import type { KvService, WriteResult } from './kv.service';
import type { WriteOptions } from './write-preconditions.util';

interface Call {
  op: 'put' | 'delete';
  key: string;
  value?: unknown;
  options: WriteOptions;
}

/**
 * A fake KvService: every write is "published" after a random delay (so concurrent keys interleave), recorded in
 * publish order; `fail` makes the write of that key and value throw as an unconfirmed publish does.
 */
function setup({ fail }: { fail?: (call: Call) => boolean } = {}) {
  const published: Call[] = [];
  const claims = new Map<string, IdempotencyRecord>();
  let ids = 0;
  const write = async (call: Call): Promise<WriteResult> => {
    await sleep(Math.random() * 5);
    const operationId = `op-${++ids}`;
    if (fail?.(call)) {
      throw new DomainError(ErrorCode.BROKER_UNAVAILABLE, 'the message broker did not confirm the write in time', {
        operationId,
        retryAfterSeconds: 1,
      });
    }
    published.push(call);
    if (call.options.waitMs > 0) {
      return {
        kind: 'finished',
        outcome: { id: operationId, key: call.key, type: call.op, status: 'applied', version: ids, created: true },
        replayed: false,
      };
    }
    return { kind: 'accepted', accepted: { operationId, key: call.key, status: 'accepted' }, replayed: false };
  };
  const kv = {
    put: (key: string, value: unknown, options: WriteOptions) => write({ op: 'put', key, value, options }),
    delete: (key: string, options: WriteOptions) => write({ op: 'delete', key, options }),
  };
  const idempotency = {
    claim: (key: string, record: IdempotencyRecord) => {
      const previous = claims.get(key);
      if (!previous) claims.set(key, record);
      return Promise.resolve(previous);
    },
  };
  const service = new KvBulkService(kv as unknown as KvService, idempotency as unknown as IdempotencyStore);
  return { service, published, claims };
}

/** 500 operations over 40 keys: puts of increasing values, and deletes. */
function manyOperations() {
  return parseBulkOperations(
    Array.from({ length: 500 }, (_, i) =>
      i % 7 === 3 ? { op: 'delete', key: `k${i % 40}` } : { op: 'put', key: `k${i % 40}`, value: i },
    ),
  );
}

describe(KvBulkService.name, () => {
  describe('write', () => {
    it('should publish every operation once, in request order per key, and answer them in request order', async () => {
      const { service, published } = setup();
      const operations = manyOperations();
      const result = await service.write(operations, { waitMs: 0 });

      expect(published).toHaveLength(500);
      for (let k = 0; k < 40; k++) {
        const key = `k${k}`;
        const asked = operations.filter((o) => o.key === key).map((o) => (o.op === 'put' ? o.value : 'delete'));
        const sent = published.filter((c) => c.key === key).map((c) => (c.op === 'put' ? c.value : 'delete'));
        expect(sent).toEqual(asked);
      }
      // Keys ran concurrently: the publish order is not simply the request order.
      expect(published.map((c) => c.key)).not.toEqual(operations.map((o) => o.key));
      expect(result.results.map((r) => r.key)).toEqual(operations.map((o) => o.key));
      expect(result.results.every((r) => 'status' in r && r.status === 'accepted')).toBe(true);
      expect(result.allFinished).toBe(false);
      expect(new Set(result.results.map((r) => ('operationId' in r ? r.operationId : ''))).size).toBe(500);
    });

    it('should pass each operation its own condition, TTL and derived Idempotency-Key', async () => {
      const { service, published, claims } = setup();
      await service.write(
        parseBulkOperations([
          { op: 'put', key: 'a', value: 1, ttl: 60, ifMatch: 2 },
          { op: 'delete', key: 'b', ifMatch: '*' },
        ]),
        { waitMs: 0, idempotencyKey: 'batch-1' },
      );
      expect(published.find((c) => c.key === 'a')?.options).toEqual({
        waitMs: 0,
        condition: { kind: 'version', version: 2 },
        ttl: 60,
        idempotencyKey: 'batch-1#0',
      });
      expect(published.find((c) => c.key === 'b')?.options).toEqual({
        waitMs: 0,
        condition: { kind: 'exists' },
        idempotencyKey: 'batch-1#1',
      });
      expect([...claims.keys()]).toEqual(['batch-1']);
    });

    it('should let a retry of the same bulk request through, and refuse another one under its key before sending', async () => {
      const { service, published } = setup();
      const operations = parseBulkOperations([{ op: 'put', key: 'a', value: 1 }]);
      await service.write(operations, { waitMs: 0, idempotencyKey: 'same' });
      await service.write(operations, { waitMs: 0, idempotencyKey: 'same' });
      expect(published).toHaveLength(2); // KvService.put itself answers the repeat from its derived key.
      await expect(
        service.write(parseBulkOperations([{ op: 'put', key: 'a', value: 2 }]), { waitMs: 0, idempotencyKey: 'same' }),
      ).rejects.toMatchObject({ code: ErrorCode.IDEMPOTENCY_KEY_REUSED });
      expect(published).toHaveLength(2);
    });

    it('should hold back the later operations on a key whose operation was not accepted, and go on with others', async () => {
      const { service, published } = setup({ fail: (c) => c.key === 'a' && c.value === 2 });
      const result = await service.write(
        parseBulkOperations([
          { op: 'put', key: 'a', value: 1 },
          { op: 'put', key: 'a', value: 2 },
          { op: 'put', key: 'b', value: 1 },
          { op: 'put', key: 'a', value: 3 },
          { op: 'delete', key: 'a' },
        ]),
        { waitMs: 0 },
      );
      expect(published.map((c) => `${c.key}=${JSON.stringify(c.value ?? 'delete')}`).sort()).toEqual(['a=1', 'b=1']);
      expect(result.results.map((r) => ('status' in r ? r.status : r.heldBack ? 'held back' : r.error.code))).toEqual([
        'accepted',
        ErrorCode.BROKER_UNAVAILABLE,
        'accepted',
        'held back',
        'held back',
      ]);
    });

    it('should give each operation what is left of Prefer: wait, and report outcomes', async () => {
      const { service, published } = setup();
      const result = await service.write(
        parseBulkOperations([
          { op: 'put', key: 'a', value: 1 },
          { op: 'put', key: 'a', value: 2 },
        ]),
        { waitMs: 5_000 },
      );
      const [first, second] = published.map((c) => c.options.waitMs);
      expect(first).toBeGreaterThan(4_900);
      expect(second).toBeLessThanOrEqual(first ?? 0);
      expect(result.allFinished).toBe(true);
      expect(result.results).toEqual([
        { operationId: expect.any(String), key: 'a', status: 'applied', version: expect.any(Number), created: true },
        { operationId: expect.any(String), key: 'a', status: 'applied', version: expect.any(Number), created: true },
      ]);
    });
  });
});
