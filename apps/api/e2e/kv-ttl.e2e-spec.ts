import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { expiryOperationId } from '@keyflow/contracts';
import { gatewayRequest, pollUntil, readStack, type GatewayResponse } from '@keyflow/testing';
import { problem } from './problem.util';

/**
 * Keys with a time to live, end to end: through the gateway, the APIs, the shard queues, the workers (their expiry
 * sweeper and the apply), PostgreSQL and the Redis cluster. A key written with `ttl` shows `expiresAt`, reads as 404
 * on every path once it passed, and is deleted by a versioned delete through the write path, which takes exactly one
 * version and is an operation like any other.
 */
let gateway: string;
const run = randomUUID().slice(0, 8);
const key = (name: string) => `e2e-ttl-${run}-${name}`;
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
const TTL_PROBLEM = 'ttl must be a whole number of seconds from 1 to 31536000 (365 days), sent as a JSON number';

function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return gatewayRequest(method, path, { body, headers, gateway, timeoutMs: 30_000, expectJson: false });
}

/** A write answered once applied (`Prefer: wait`). */
async function write(path: string, body: unknown): Promise<GatewayResponse> {
  const r = await call('PUT', path, body, { prefer: 'wait=10' });
  expect([200, 201], r.text).toContain(r.status);
  return r;
}

/** The three ways to read a key: the cache first, the primary, and the reference route (the cache first). */
function readPaths(k: string): Array<[string, string]> {
  const path = encodeURIComponent(k);
  return [
    ['cached', `/v1/kv/${path}`],
    ['strong', `/v1/kv/${path}?consistency=strong`],
    ['store', `/store/${path}`],
  ];
}

async function operation(id: string): Promise<GatewayResponse> {
  return call('GET', `/v1/operations/${id}`);
}

describe('keys with a time to live (e2e through the gateway)', () => {
  beforeAll(() => {
    gateway = readStack().gateway;
  });

  it('should show expiresAt, then answer 404 on every read path within 4 s, the expiry delete taking one version', async () => {
    const k = key('expires');
    const put = await write(`/v1/kv/${k}`, { value: { session: 'abc' }, ttl: 2 });
    expect(put.status).toBe(201);
    expect(put.json).toMatchObject({ key: k, status: 'applied', version: 1 });
    const op = await operation(String(put.json.operationId));
    const expiresAt = new Date(Date.parse(String(op.json.acceptedAt)) + 2_000).toISOString();

    const [cached, strong, store] = await Promise.all(readPaths(k).map(([, path]) => call('GET', path)));
    // Listed with its expiry until then (on the primary: a replica may not have the write yet).
    const listed = await call('GET', `/v1/kv?prefix=${encodeURIComponent(k)}&consistency=strong`);
    expect(listed.json.items).toEqual([{ key: k, value: { session: 'abc' }, version: 1, updatedAt: ISO, expiresAt }]);
    expect(cached?.json).toEqual({ key: k, value: { session: 'abc' }, version: 1, updatedAt: ISO, expiresAt });
    expect(strong?.json).toEqual(cached?.json);
    expect(store?.json).toEqual({ value: { session: 'abc' }, expiresAt });

    // Every path answers 404 from expiresAt on, never a stale value (a read sent after expiresAt that still got the
    // key), and all of them do within 4 s of the write.
    const stale: string[] = [];
    for (const [name, path] of readPaths(k)) {
      await pollUntil(
        async () => {
          const sent = Date.now();
          const r = await call('GET', path);
          if (r.status === 200 && sent > Date.parse(expiresAt))
            stale.push(`${name} at ${new Date(sent).toISOString()}`);
          return r;
        },
        (r) => r.status === 404,
        { timeoutMs: Math.max(0, Date.parse(String(op.json.acceptedAt)) + 4_000 - Date.now()), what: `${name} 404` },
      );
    }
    expect(stale).toEqual([]);
    // Gone from listings from expiresAt on too.
    for (const consistency of ['eventual', 'strong']) {
      const listed = await call('GET', `/v1/kv?prefix=${encodeURIComponent(k)}&consistency=${consistency}`);
      expect(listed.json).toEqual({ items: [], cursor: null });
    }

    // The expiry is a delete through the write path: an operation like any other, applied within about a second.
    const expiry = await pollUntil(
      () => operation(expiryOperationId(k, 1)),
      (r) => r.json.status === 'applied',
      { timeoutMs: 5_000, what: 'the expiry delete to be applied' },
    );
    expect(expiry.json).toEqual({
      id: expiryOperationId(k, 1),
      key: k,
      type: 'delete',
      status: 'applied',
      version: 2,
      acceptedAt: ISO,
      finishedAt: ISO,
    });
    expect(Date.parse(String(expiry.json.finishedAt)) - Date.parse(expiresAt)).toBeLessThan(2_000);
    for (const [, path] of readPaths(k)) expect((await call('GET', path)).status).toBe(404);

    // Exactly one version: the next write is version 3, and creates the key.
    const again = await write(`/v1/kv/${k}`, { value: 'back' });
    expect(again.status).toBe(201);
    expect(again.json).toMatchObject({ version: 3 });
    expect((await call('GET', `/v1/kv/${k}`)).json).toEqual({ key: k, value: 'back', version: 3, updatedAt: ISO });
  });

  it('should keep a key rewritten without ttl before it expired, without expiresAt', async () => {
    const k = key('kept');
    await write(`/v1/kv/${k}`, { value: 1, ttl: 2 });
    const put = await write(`/v1/kv/${k}`, { value: 2 });
    expect(put.json).toMatchObject({ version: 2 });
    const op = await operation(String(put.json.operationId));
    // Past the first write's expiry, with room for a sweep that would (wrongly) have deleted it.
    const until = Date.parse(String(op.json.acceptedAt)) + 4_000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now())));

    const entry = { key: k, value: 2, version: 2, updatedAt: ISO };
    const [cached, strong, store] = await Promise.all(readPaths(k).map(([, path]) => call('GET', path)));
    expect(cached?.json).toEqual(entry);
    expect(strong?.json).toEqual(entry);
    expect(store?.json).toEqual({ value: 2 });
    expect((await operation(expiryOperationId(k, 1))).status).toBe(404);
  });

  it('should take ttl on PUT /store, and expire the key the same way', async () => {
    const k = key('store');
    const put = await call('PUT', '/store', { key: k, value: 'short', ttl: 1 });
    expect(put.status).toBe(200);
    await pollUntil(
      () => operation(expiryOperationId(k, 1)),
      (r) => r.json.status === 'applied',
      { timeoutMs: 5_000, what: 'the expiry delete to be applied' },
    );
    expect((await call('GET', `/store/${k}`)).status).toBe(404);
  });

  it('should refuse a ttl of 0, -1, 1.5, "2", null or over a year with 400 naming ttl, and write nothing', async () => {
    const k = key('bad');
    for (const ttl of [0, -1, 1.5, '2', null, 31_536_001]) {
      const kv = await call('PUT', `/v1/kv/${k}`, { value: 1, ttl });
      expect(kv.status, JSON.stringify(ttl)).toBe(400);
      expect(kv.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(kv.json).toEqual({
        ...problem(400, 'invalid-request', 'Invalid request', TTL_PROBLEM, `/v1/kv/${k}`),
        errors: [TTL_PROBLEM],
      });
      const store = await call('PUT', '/store', { key: k, value: 1, ttl });
      expect(store.json).toEqual({
        ...problem(400, 'invalid-request', 'Invalid request', TTL_PROBLEM, '/store'),
        errors: [TTL_PROBLEM],
      });
    }
    expect((await call('GET', `/v1/kv/${k}?consistency=strong`)).status).toBe(404);
  });

  it('should document ttl (with its bounds and an example) and expiresAt in the OpenAPI document', async () => {
    const doc = await call('GET', '/docs/json');
    const schemas = (doc.json.components as { schemas: Record<string, { properties: Record<string, unknown> }> })
      .schemas;
    for (const dto of ['KvPutDto', 'StorePutDto']) {
      expect(schemas[dto]?.properties.ttl, dto).toMatchObject({
        type: 'integer',
        minimum: 1,
        maximum: 31_536_000,
        example: 60,
        description: expect.stringContaining('365 days'),
      });
    }
    for (const dto of ['KvEntryResponseDto', 'StoreGetResponseDto']) {
      expect(schemas[dto]?.properties.expiresAt, dto).toMatchObject({ type: 'string' });
    }
  });

  // The worker's expiry sweeper takes an expired key within about a second; the bound here is loose on purpose, as
  // a shared 2-core machine can be slow: what is checked is that every key gets exactly one expiry delete.
  it('should expire 100 keys written with ttl 1, each by one versioned delete, within seconds', async () => {
    const keys = Array.from({ length: 100 }, (_, i) => key(`bulk-${i}`));
    const start = Date.now();
    const puts = await Promise.all(keys.map((k) => call('PUT', `/v1/kv/${k}`, { value: { i: k }, ttl: 1 })));
    expect(puts.map((r) => r.status)).toEqual(keys.map(() => 202));

    await pollUntil(
      () => Promise.all(keys.map((k) => operation(expiryOperationId(k, 1)))),
      (ops) => ops.every((r) => r.json.status === 'applied' && r.json.version === 2),
      {
        timeoutMs: Math.max(0, start + 15_000 - Date.now()),
        intervalMs: 100,
        what: '100 expiry deletes to be applied',
      },
    );
    const reads = await Promise.all(keys.map((k) => call('GET', `/v1/kv/${k}`)));
    expect(reads.map((r) => r.status)).toEqual(keys.map(() => 404));
  });
});
