import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdempotencyStore } from '@keyflow/cache';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import { KvListRepository, type KvListQuery } from '@keyflow/db';
import { problem } from '../../e2e/problem.util';
import { createHttpApp } from '../common/http-app.util';
import { actAs, TEST_PRINCIPAL } from '../testing/principal.util';
import { KvBulkService } from './kv-bulk.service';
import { KvCollectionController } from './kv-collection.controller';
import { KvListService } from './kv-list.service';
import { KvController } from './kv.controller';
import { KvService, type WriteResult } from './kv.service';
import { encodeCursor } from './list-query.util';
import type { WriteOptions } from './write-preconditions.util';

/**
 * `/v1/kv` in process: the real controllers, services, parser, hooks, pipes and problem filter, with a fake
 * KvService (what it receives is what would be published) and a fake listing repository.
 */
const puts: Array<{ key: string; value: unknown; options: WriteOptions }> = [];
let ids = 0;
const accepted = (key: string): Promise<WriteResult> =>
  Promise.resolve({
    kind: 'accepted',
    accepted: { operationId: `00000000-0000-4000-8000-${String(++ids).padStart(12, '0')}`, key, status: 'accepted' },
    replayed: false,
  });
const fakeKv = {
  put: vi.fn((key: string, value: unknown, options: WriteOptions) => {
    puts.push({ key, value, options });
    return accepted(key);
  }),
  delete: vi.fn((key: string) => accepted(key)),
  get: vi.fn(),
};
const listQueries: KvListQuery[] = [];
const fakeListRepository = {
  list: vi.fn((query: KvListQuery) => {
    listQueries.push(query);
    return Promise.resolve({
      items: [
        { key: 'user:1', valueJson: '{"n": 1.50, "s": "\\u00e9"}', version: 2, updatedAt: '2026-11-23T10:00:00.000Z' },
        {
          key: 'user:2',
          valueJson: 'null',
          version: 1,
          updatedAt: '2026-11-23T10:00:01.000Z',
          expiresAt: '2026-11-24T10:00:01.000Z',
        },
      ],
      nextAfter: 'user:2',
    });
  }),
};

let app: NestFastifyApplication;

beforeAll(async () => {
  app = await createHttpApp(
    {
      module: class CollectionTestModule {},
      controllers: [KvController, KvCollectionController],
      providers: [
        { provide: KvService, useValue: fakeKv },
        { provide: KvListRepository, useValue: fakeListRepository },
        { provide: IdempotencyStore, useValue: { claim: () => Promise.resolve(undefined) } },
        KvListService,
        KvBulkService,
      ],
    },
    { instance: 'api-test', logger: false },
  );
  actAs(app);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
});

afterAll(async () => {
  await app.close();
});

beforeEach(() => {
  puts.length = 0;
  listQueries.length = 0;
  vi.clearAllMocks();
});

function post(payload: string, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/v1/kv',
    payload,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** A bulk body of `count` puts whose values make it about `bytes` long. */
function bulkOf(bytes: number, count = 16): string {
  const each = Math.floor(bytes / count) - 60;
  return JSON.stringify({
    operations: Array.from({ length: count }, (_, i) => ({ op: 'put', key: `k${i}`, value: 'x'.repeat(each) })),
  });
}

describe(KvCollectionController.name, () => {
  describe('list', () => {
    it('should answer a page with the values spliced in exactly as stored, and the next cursor', async () => {
      const r = await app.inject({ method: 'GET', url: '/v1/kv?prefix=user%3A&limit=2&keysOnly=false' });
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.body).toBe(
        '{"items":[{"key":"user:1","value":{"n": 1.50, "s": "\\u00e9"},"version":2,"updatedAt":"2026-11-23T10:00:00.000Z"},' +
          '{"key":"user:2","value":null,"version":1,"updatedAt":"2026-11-23T10:00:01.000Z","expiresAt":"2026-11-24T10:00:01.000Z"}],' +
          `"cursor":"${encodeCursor('user:', 'user:2')}"}`,
      );
      expect(listQueries).toEqual([{ prefix: 'user:', limit: 2, keysOnly: false, strong: false }]);
    });

    it('should pass the cursor, keysOnly and strong consistency on, and leave values out', async () => {
      const cursor = encodeCursor('user:', 'user:2');
      const r = await app.inject({
        method: 'GET',
        url: `/v1/kv?prefix=user:&cursor=${cursor}&keysOnly=true&consistency=strong`,
      });
      expect(r.statusCode).toBe(200);
      expect(r.json<{ items: unknown[] }>().items[0]).toEqual({
        key: 'user:1',
        version: 2,
        updatedAt: '2026-11-23T10:00:00.000Z',
      });
      expect(listQueries).toEqual([{ prefix: 'user:', limit: 100, after: 'user:2', keysOnly: true, strong: true }]);
    });

    it('should refuse a bad limit or cursor with a 400 problem, without reading', async () => {
      for (const [query, detail] of [
        ['limit=0', 'limit must be a whole number from 1 to 1000; got "0"'],
        ['limit=1001', 'limit must be a whole number from 1 to 1000; got "1001"'],
        ['limit=junk', 'limit must be a whole number from 1 to 1000; got "junk"'],
        [
          'cursor=bm90LWEtY3Vyc29y',
          'cursor is not valid: it is not a cursor keyflow made; pass the cursor of the previous page unchanged, or none for the first page',
        ],
      ] as const) {
        const r = await app.inject({ method: 'GET', url: `/v1/kv?${query}` });
        expect(r.statusCode).toBe(400);
        expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(r.json()).toEqual(problem(400, 'invalid-request', 'Invalid request', detail, '/v1/kv'));
      }
      expect(fakeListRepository.list).not.toHaveBeenCalled();
    });
  });

  describe('write', () => {
    it('should accept every operation and answer 202 in request order', async () => {
      const r = await post(
        JSON.stringify({
          operations: [
            { op: 'put', key: 'a', value: { x: 1 }, ttl: 30 },
            { op: 'delete', key: 'b', ifMatch: 4 },
            { op: 'put', key: 'a', value: [1.5] },
          ],
        }),
        { 'x-request-id': 'req-bulk' },
      );
      expect(r.statusCode).toBe(202);
      expect(r.json<{ operations: Array<{ key: string; status: string }> }>().operations).toEqual([
        { operationId: expect.any(String), key: 'a', status: 'accepted' },
        { operationId: expect.any(String), key: 'b', status: 'accepted' },
        { operationId: expect.any(String), key: 'a', status: 'accepted' },
      ]);
      expect(puts.map((p) => [p.key, p.value, p.options])).toEqual([
        ['a', { x: 1 }, { waitMs: 0, ttl: 30, owner: TEST_PRINCIPAL.userId, requestId: 'req-bulk' }],
        ['a', [1.5], { waitMs: 0, owner: TEST_PRINCIPAL.userId, requestId: 'req-bulk' }],
      ]);
      // Every operation of the bulk carries the bulk request's id, for the worker's log.
      expect(fakeKv.delete).toHaveBeenCalledWith('b', {
        waitMs: 0,
        owner: TEST_PRINCIPAL.userId,
        requestId: 'req-bulk',
        condition: { kind: 'version', version: 4 },
      });
    });

    it('should refuse the whole request, naming the operation, when one value cannot be stored as written', async () => {
      const ops = Array.from(
        { length: 9 },
        (_, i) => `{"op":"put","key":"k${i}","value":${i === 7 ? '9007199254740993' : i}}`,
      );
      const r = await post(`{"operations":[${ops.join(',')}]}`);
      expect(r.statusCode).toBe(400);
      expect(r.json()).toEqual(
        problem(
          400,
          'invalid-value',
          'Invalid value',
          'operations[7]: the number 9007199254740993 at /value cannot be stored exactly: keyflow stores numbers as IEEE 754 doubles and it would read back as 9007199254740992 (send it as a string to keep every digit)',
          '/v1/kv',
        ),
      );
      expect(fakeKv.put).not.toHaveBeenCalled();
    });

    it('should refuse a bad operation by index, and unknown fields or If-Match headers, writing nothing', async () => {
      const seven = Array.from({ length: 7 }, (_, i) => ({ op: 'put', key: `k${i}`, value: i }));
      const bad = await post(JSON.stringify({ operations: [...seven, { op: 'put', key: '', value: 1 }] }));
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toEqual(
        problem(
          400,
          'invalid-key',
          'Invalid key',
          'operations[7].key: the key is empty; it must be 1 to 512 bytes of UTF-8',
          '/v1/kv',
        ),
      );
      const extra = await post(JSON.stringify({ operations: seven, atomic: true }));
      expect(extra.statusCode).toBe(400);
      expect(extra.json<{ detail: string }>().detail).toBe('property atomic should not exist');
      const header = await post(JSON.stringify({ operations: seven }), { 'if-match': '"1"' });
      expect(header.statusCode).toBe(400);
      const missing = await post('{}');
      expect(missing.statusCode).toBe(400);
      expect(fakeKv.put).not.toHaveBeenCalled();
    });

    it('should answer 503 with what became of each operation when the broker did not confirm one', async () => {
      fakeKv.put.mockImplementationOnce((key: string) =>
        Promise.reject(
          new DomainError(ErrorCode.BROKER_UNAVAILABLE, 'the message broker did not confirm the write in time', {
            operationId: '00000000-0000-4000-8000-00000000dead',
            retryAfterSeconds: 1,
          }),
        ).finally(() => puts.push({ key, value: 'lost', options: { waitMs: 0 } })),
      );
      const r = await post(
        JSON.stringify({
          operations: [
            { op: 'put', key: 'x', value: 1 },
            { op: 'put', key: 'y', value: 1 },
            { op: 'delete', key: 'x' },
          ],
        }),
      );
      expect(r.statusCode).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.json()).toEqual({
        ...problem(
          503,
          'broker-unavailable',
          'Write path unavailable',
          '2 of 3 operations were not accepted; the others were. First: operations[0]: the message broker did not ' +
            'confirm the write in time. Retry the same request with the same Idempotency-Key: what was accepted is not ' +
            'applied twice.',
          '/v1/kv',
        ),
        operations: [
          {
            key: 'x',
            status: 'unknown',
            operationId: '00000000-0000-4000-8000-00000000dead',
            error: 'the message broker did not confirm the write in time',
          },
          { operationId: expect.any(String), key: 'y', status: 'accepted' },
          {
            key: 'x',
            status: 'not-sent',
            error: 'not sent: operations[0] on the same key "x" was not accepted, and this one must follow it',
          },
        ],
      });
      // The delete on x was held back: never sent.
      expect(fakeKv.delete).not.toHaveBeenCalled();
    });

    it('should take a body of up to 8 MiB on this route only, and answer 413 problem+json above it', async () => {
      const big = bulkOf(8 * 1024 * 1024 - 1024);
      expect(Buffer.byteLength(big)).toBeGreaterThan(8_000_000);
      expect((await post(big)).statusCode).toBe(202);

      const tooBig = await post(bulkOf(8 * 1024 * 1024 + 4096));
      expect(tooBig.statusCode).toBe(413);
      expect(tooBig.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(tooBig.json()).toMatchObject({ status: 413, instance: '/v1/kv' });

      const single = await app.inject({
        method: 'PUT',
        url: '/v1/kv/k',
        payload: JSON.stringify({ value: 'x'.repeat(3 * 1024 * 1024) }),
        headers: { 'content-type': 'application/json' },
      });
      expect(single.statusCode).toBe(413);
    });
  });
});
