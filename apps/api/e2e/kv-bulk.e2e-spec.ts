import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { gatewayRequest, pollUntil, readStack } from '@keyflow/testing';
import { problem } from './problem.util';

/**
 * `POST /v1/kv`, end to end through the gateway: each operation a single write through the broker and the workers,
 * applied once, in request order per key.
 */
let gateway: string;
const run = randomUUID().slice(0, 8);
const key = (name: string) => `e2e-bulk-${run}-${name}`;
const UUID = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

type Operation = { op: 'put'; key: string; value: unknown } | { op: 'delete'; key: string };
interface Accepted {
  operationId: string;
  key: string;
  status: string;
  version?: number;
}

function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const payload = typeof body === 'string' ? { rawBody: body } : { body };
  return gatewayRequest(method, url, { ...payload, headers, gateway, timeoutMs: 60_000, expectJson: false });
}
const path = (k: string) => `/v1/kv/${encodeURIComponent(k)}`;

async function inBatches<T>(items: T[], width: number, task: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(task));
}

describe('POST /v1/kv (e2e through the gateway)', () => {
  beforeAll(() => {
    gateway = readStack().gateway;
  });

  it('should apply 500 puts and deletes once each, in request order per key', async () => {
    // 50 keys, 10 operations each, interleaved across keys: a delete every fourth operation, the rest puts.
    const keys = Array.from({ length: 50 }, (_, k) => key(`order-${k}`));
    const operations: Operation[] = [];
    for (let round = 0; round < 10; round++) {
      for (const k of keys) {
        operations.push(round % 4 === 2 ? { op: 'delete', key: k } : { op: 'put', key: k, value: { round, k } });
      }
    }
    const r = await call('POST', '/v1/kv', { operations });
    expect(r.status, r.text).toBe(202);
    const accepted = (r.json as { operations: Accepted[] }).operations;
    expect(accepted).toHaveLength(500);
    accepted.forEach((a, i) => expect(a).toEqual({ operationId: UUID, key: operations[i]?.key, status: 'accepted' }));
    expect(new Set(accepted.map((a) => a.operationId)).size).toBe(500);

    // Every operation's outcome: applied, with the versions 1..10 of its key in request order.
    const outcomes = new Map<string, Record<string, unknown>>();
    await inBatches(accepted, 25, async (a) => {
      const done = await pollUntil(
        () => call('GET', `/v1/operations/${a.operationId}`),
        (res) => res.json?.status === 'applied',
        { what: `operation ${a.operationId}`, timeoutMs: 30_000 },
      );
      outcomes.set(a.operationId, done.json);
    });
    const seen = new Map<string, number>();
    accepted.forEach((a, i) => {
      const version = (seen.get(a.key) ?? 0) + 1;
      seen.set(a.key, version);
      expect(outcomes.get(a.operationId)).toEqual({
        id: a.operationId,
        key: a.key,
        type: operations[i]?.op,
        status: 'applied',
        version,
        acceptedAt: ISO,
        finishedAt: ISO,
      });
    });
    // The last operation on every key was a put of round 9: version 10, its value.
    await inBatches(keys, 25, async (k) => {
      const got = await call('GET', `${path(k)}?consistency=strong`);
      expect(got.json).toEqual({ key: k, value: { round: 9, k }, version: 10, updatedAt: ISO });
    });
  }, 120_000);

  it('should refuse the whole request naming index 7 when operation 7 is bad, and write nothing', async () => {
    const operations = Array.from({ length: 10 }, (_, i) => ({ op: 'put', key: key(`bad-${i}`), value: i }));
    const badKey = [...operations.slice(0, 7), { op: 'put', key: '', value: 7 }, ...operations.slice(8)];
    const r = await call('POST', '/v1/kv', { operations: badKey });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.json).toEqual(
      problem(
        400,
        'invalid-key',
        'Invalid key',
        'operations[7].key: the key is empty; it must be 1 to 512 bytes of UTF-8',
        '/v1/kv',
      ),
    );

    // A value a single PUT refuses is refused the same way, by index.
    const raw = `{"operations":[${operations
      .map((o, i) => `{"op":"put","key":${JSON.stringify(o.key)},"value":${i === 7 ? '[1, 1e999999]' : i}}`)
      .join(',')}]}`;
    const badValue = await call('POST', '/v1/kv', raw);
    expect(badValue.status).toBe(400);
    const single = await call('PUT', path(key('bad-single')), '{"value":[1, 1e999999]}');
    expect(single.status).toBe(400);
    expect(badValue.json).toEqual(
      problem(400, 'invalid-value', 'Invalid value', `operations[7]: ${String(single.json.detail)}`, '/v1/kv'),
    );

    // Nothing was published: a write now is each key's first (queues are FIFO per shard, so any earlier write
    // of these keys would have been applied before it).
    await inBatches(operations, 10, async (o) => {
      const put = await call('PUT', path(o.key), { value: 'after' }, { prefer: 'wait=10' });
      expect(put.status).toBe(201);
      expect(put.json).toMatchObject({ version: 1 });
    });
  });

  it('should answer 200 with every outcome under Prefer: wait, conflicts included', async () => {
    const [a, b] = [key('wait-a'), key('wait-b')];
    const r = await call(
      'POST',
      '/v1/kv',
      {
        operations: [
          { op: 'put', key: a, value: 1 },
          { op: 'put', key: a, value: 2, ifMatch: 1 },
          { op: 'put', key: b, value: 'x', ifMatch: '"5"' },
          { op: 'delete', key: a, ifMatch: '*' },
          { op: 'put', key: b, value: 'y' },
        ],
      },
      { prefer: 'wait=20' },
    );
    expect(r.status, r.text).toBe(200);
    expect(r.json).toEqual({
      operations: [
        { operationId: UUID, key: a, status: 'applied', version: 1, created: true },
        { operationId: UUID, key: a, status: 'applied', version: 2 },
        { operationId: UUID, key: b, status: 'conflict', currentVersion: 0 },
        { operationId: UUID, key: a, status: 'applied', version: 3 },
        { operationId: UUID, key: b, status: 'applied', version: 1, created: true },
      ],
    });
  });

  it('should apply nothing twice when the same bulk request is retried with its Idempotency-Key', async () => {
    const k = key('idem');
    const body = {
      operations: [
        { op: 'put', key: k, value: 'one' },
        { op: 'put', key: k, value: 'two' },
      ],
    };
    const headers = { 'idempotency-key': `bulk-${run}`, prefer: 'wait=10' };
    const first = await call('POST', '/v1/kv', body, headers);
    expect(first.status).toBe(200);
    const again = await call('POST', '/v1/kv', body, headers);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    // The same operations, not new ones (a replay reports what the database recorded of each).
    const summary = (json: Record<string, unknown>) =>
      (json.operations as Accepted[]).map(({ operationId, status, version }) => ({ operationId, status, version }));
    expect(summary(again.json)).toEqual(summary(first.json));
    expect((await call('GET', `${path(k)}?consistency=strong`)).json).toMatchObject({ value: 'two', version: 2 });

    const other = await call('POST', '/v1/kv', { operations: [{ op: 'delete', key: k }] }, headers);
    expect(other.status).toBe(422);
  });

  it('should document GET and POST /v1/kv in the OpenAPI document, with examples and errors', async () => {
    const doc = await call('GET', '/docs/json');
    const route = (doc.json.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)['/v1/kv'];
    // 403: a prefix outside every grant of the caller (issue 16).
    expect(Object.keys(route?.get?.responses ?? {}).sort()).toEqual(['200', '400', '401', '403', '503']);
    expect(Object.keys(route?.post?.responses ?? {}).sort()).toEqual(
      ['200', '202', '400', '401', '403', '412', '413', '415', '422', '503'].sort(),
    );
    expect(JSON.stringify(route?.post)).toContain('"examples"');
  });

  it('should take an 8 MiB-ish body and answer a bigger one 413 problem+json', async () => {
    // Eight values of just under 1 MiB: about 8,000,000 bytes in all, below the 8 MiB (8,388,608) limit.
    const big = {
      operations: Array.from({ length: 8 }, (_, i) => ({
        op: 'put',
        key: key(`big-${i}`),
        value: 'x'.repeat(999_000),
      })),
    };
    const text = JSON.stringify(big);
    expect(text.length).toBeGreaterThan(7_990_000);
    const ok = await call('POST', '/v1/kv', text);
    expect(ok.status, ok.text.slice(0, 300)).toBe(202);

    const tooBig = await call('POST', '/v1/kv', `${text.slice(0, -2)}${' '.repeat(500_000)}]}`);
    expect(tooBig.status).toBe(413);
    expect(tooBig.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(tooBig.json).toMatchObject({ status: 413, title: 'Content Too Large' });
  }, 60_000);
});
