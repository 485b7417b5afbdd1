import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayRequest, pollUntil, readStack, type GatewayResponse } from '@keyflow/testing';
import { problem } from './problem.util';

/**
 * `GET /v1/kv?prefix=`, end to end through the gateway: keys written through the write path, listed from the
 * database replicas (or the primary with `consistency=strong`), paged with the opaque cursor.
 */
let gateway: string;
const run = randomUUID().slice(0, 8);
const prefix = `e2e-list-${run}/`;
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

/** Suffixes whose UTF-8 byte order differs from a linguistic order, and from JavaScript's UTF-16 order. */
const AWKWARD = ['B', 'a', 'é', 'e', 'ÿ', 'Ā', '€', '\uffff', '😀', 'z z'];
/** 250 keys under the prefix (10 awkward ones among them), and 50 just outside it on both sides. */
const inside = [
  ...AWKWARD.map((s) => `${prefix}${s}`),
  ...Array.from({ length: 240 }, (_, i) => `${prefix}k${String(i).padStart(3, '0')}`),
];
const outside = [
  ...Array.from({ length: 25 }, (_, i) => `e2e-list-${run}0${i}`), // "0" is the byte right after "/"
  ...Array.from({ length: 25 }, (_, i) => `e2e-list-${run}.${i}`), // "." is the byte right before it
];

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const path = (key: string) => `/v1/kv/${encodeURIComponent(key)}`;
const valueOf = (key: string) => ({ key, n: 1.5, list: [1, 'two', null], text: 'é€😀' });

function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  return gatewayRequest(method, url, { body, headers, gateway, timeoutMs: 60_000, expectJson: false });
}

function list(query: Record<string, string>): Promise<GatewayResponse> {
  return call('GET', `/v1/kv?${new URLSearchParams(query).toString()}`);
}

interface Page {
  items: Array<{ key: string; value?: unknown; version: number; updatedAt: string; expiresAt?: string }>;
  cursor: string | null;
}

/** Every page of `prefix`, `limit` at a time. */
async function listAll(query: Record<string, string>): Promise<{ pages: Page[]; keys: string[] }> {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const r = await list({ ...query, ...(cursor ? { cursor } : {}) });
    expect(r.status, r.text).toBe(200);
    const page = r.json as unknown as Page;
    pages.push(page);
    cursor = page.cursor;
  } while (cursor !== null);
  return { pages, keys: pages.flatMap((p) => p.items.map((i) => i.key)) };
}

/** Runs `tasks` at most `width` at a time. */
async function inBatches<T>(items: T[], width: number, task: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(task));
}

describe('GET /v1/kv (e2e through the gateway)', () => {
  beforeAll(async () => {
    gateway = readStack().gateway;
    await inBatches([...inside, ...outside], 30, async (key) => {
      const r = await call('PUT', path(key), { value: valueOf(key) }, { prefer: 'wait=20' });
      expect(r.status, r.text).toBe(201);
    });
    // The replicas have them too before the listing tests start.
    await pollUntil(
      () => list({ prefix, limit: '1000', keysOnly: 'true' }),
      (r) => (r.json as unknown as Page).items?.length === inside.length,
      { what: 'every key on the replicas', timeoutMs: 30_000 },
    );
  }, 180_000);

  it('should page through 250 keys 100 at a time, each exactly once in byte order, while the prefix is written', async () => {
    const expected = [...inside].sort(byteOrder);
    // Writers under the same prefix meanwhile: new keys before, between and after the existing ones, deletes of
    // those, and updates of existing keys (which exist throughout and so must still appear exactly once).
    let writing = true;
    let writes = 0;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; writing && i < 400; i++) {
        const fresh = `${prefix}${['0', 'k1', 'k2x', '~'][w] ?? ''}new-${i}`;
        await call('PUT', path(fresh), { value: i });
        if (i % 3 === 0) await call('DELETE', path(fresh));
        await call('PUT', path(`${prefix}k${String((i * 7 + w) % 240).padStart(3, '0')}`), { value: { updated: i } });
        writes += 3;
      }
    });
    try {
      // Page again and again until the writers have really written meanwhile (bounded).
      let sawNewKeys = 0;
      for (let round = 0; round < 3 || (writes < 150 && round < 50); round++) {
        const { pages, keys } = await listAll({ prefix, limit: '100' });
        expect(pages.length).toBeGreaterThanOrEqual(3);
        for (const page of pages.slice(0, -1)) expect(page.items).toHaveLength(100);
        expect(pages.at(-1)?.cursor).toBeNull();
        // In byte order across all pages, no key twice, nothing outside the prefix.
        expect(keys).toEqual([...keys].sort(byteOrder));
        expect(new Set(keys).size).toBe(keys.length);
        expect(keys.every((k) => k.startsWith(prefix))).toBe(true);
        // Every key that existed throughout, exactly once.
        expect(keys.filter((k) => !k.includes('new-'))).toEqual(expected);
        sawNewKeys += keys.length - expected.length;
      }
      expect(writes).toBeGreaterThanOrEqual(150);
      // Keys written meanwhile were listed too (each at most once per listing, checked above).
      expect(sawNewKeys).toBeGreaterThan(0);
    } finally {
      writing = false;
      await Promise.all(writers);
    }
  }, 120_000);

  it('should answer values exactly as GET /v1/kv/{key} does, and leave them out with keysOnly', async () => {
    const first = await list({ prefix: `${prefix}é`, consistency: 'strong' });
    expect(first.status).toBe(200);
    const single = await call('GET', `${path(`${prefix}é`)}?consistency=strong`);
    expect(first.json).toEqual({ items: [single.json], cursor: null });
    expect(first.json).toEqual({
      items: [{ key: `${prefix}é`, value: valueOf(`${prefix}é`), version: 1, updatedAt: ISO }],
      cursor: null,
    });

    const keysOnly = await list({ prefix, limit: '5', keysOnly: 'true' });
    const page = keysOnly.json as unknown as Page;
    expect(page.items).toHaveLength(5);
    for (const item of page.items) expect(Object.keys(item).sort()).toEqual(['key', 'updatedAt', 'version']);
    expect(page.cursor).toEqual(expect.any(String));
  });

  it('should answer 400 problem+json for an invalid cursor and for a limit of 0, 1001 or junk', async () => {
    const pageOne = (await list({ prefix, limit: '2' })).json as unknown as Page;
    const tampered = Buffer.from(JSON.stringify({ v: 1, p: prefix, k: 'elsewhere' })).toString('base64url');
    for (const [query, detail] of [
      [{ prefix, cursor: 'not-a-cursor' }, /^cursor is not valid: it is not a cursor keyflow made/],
      [{ prefix, cursor: tampered }, /^cursor is not valid: it belongs to a listing of another prefix/],
      [{ prefix: `${prefix}a`, cursor: pageOne.cursor ?? '' }, /^cursor is not valid: it belongs to a listing/],
      [{ prefix, limit: '0' }, 'limit must be a whole number from 1 to 1000; got "0"'],
      [{ prefix, limit: '1001' }, 'limit must be a whole number from 1 to 1000; got "1001"'],
      [{ prefix, limit: 'junk' }, 'limit must be a whole number from 1 to 1000; got "junk"'],
      [{ prefix, keysOnly: 'maybe' }, 'keysOnly must be true or false'],
    ] as const) {
      const r = await list(query);
      expect(r.status).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.json).toEqual(
        problem(
          400,
          'invalid-request',
          'Invalid request',
          typeof detail === 'string' ? detail : expect.stringMatching(detail),
          '/v1/kv',
        ),
      );
    }
  });

  it('should see a write at once with consistency=strong after Prefer: wait applied it, and never a deleted key', async () => {
    const key = `${prefix}strong-${randomUUID()}`;
    const put = await call('PUT', path(key), { value: { fresh: true } }, { prefer: 'wait=10' });
    expect(put.status).toBe(201);
    const seen = await list({ prefix: key, consistency: 'strong' });
    expect(seen.json).toEqual({ items: [{ key, value: { fresh: true }, version: 1, updatedAt: ISO }], cursor: null });

    const del = await call('DELETE', path(key), undefined, { prefer: 'wait=10' });
    expect(del.status).toBe(204);
    expect((await list({ prefix: key, consistency: 'strong' })).json).toEqual({ items: [], cursor: null });
    // On the replicas too, once they replayed the delete; and never again.
    await pollUntil(
      () => list({ prefix: key }),
      (r) => (r.json as unknown as Page).items?.length === 0,
      { what: 'the delete on the replicas' },
    );
    const { keys } = await listAll({ prefix, limit: '1000', consistency: 'strong' });
    expect(keys).not.toContain(key);
  });

  describe('keys with a time to live', () => {
    let pool: Pool;
    beforeAll(() => {
      pool = new Pool({ connectionString: readStack().db.write, max: 1 });
    });
    afterAll(() => pool.end());

    it('should leave out a key whose expires_at has passed, and show expiresAt on one that has not', async () => {
      const [expired, later] = [`${prefix}ttl-expired`, `${prefix}ttl-later`];
      for (const key of [expired, later]) {
        expect((await call('PUT', path(key), { value: key }, { prefer: 'wait=10' })).status).toBe(201);
      }
      // What a put with a TTL leaves in the row (schema v6), set directly: the listing must honour the column.
      await pool.query(`UPDATE kv_entries SET expires_at = now() - interval '1 second' WHERE key = $1`, [expired]);
      await pool.query(`UPDATE kv_entries SET expires_at = '2999-01-01T00:00:00Z' WHERE key = $1`, [later]);
      const r = await list({ prefix: `${prefix}ttl-`, consistency: 'strong' });
      expect(r.json).toEqual({
        items: [{ key: later, value: later, version: 1, updatedAt: ISO, expiresAt: '2999-01-01T00:00:00.000Z' }],
        cursor: null,
      });
    });
  });
});
