import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema } from '@keyflow/testing';
import { compareUtf8 } from '../kv/key-range.util';
import { KvListRepository, type KvListItem } from '../kv/kv-list.repository';
import { KvRepository, type WriteOp } from '../kv/kv.repository';
import { runMigrations } from '../migrations/migration.service';

const at = '2026-11-23T10:00:00.000Z';
const put = (key: string, value: unknown): WriteOp => ({
  id: randomUUID(),
  key,
  type: 'put',
  valueJson: JSON.stringify(value),
  acceptedAt: at,
});
const del = (key: string): WriteOp => ({ id: randomUUID(), key, type: 'delete', acceptedAt: at });

/**
 * Keys whose UTF-8 byte order a linguistic collation would change (case, accents, punctuation), or that JavaScript's
 * UTF-16 comparison orders differently (U+FFFF against an astral character).
 */
export const AWKWARD_KEYS = [
  'p/B',
  'p/a',
  'p/a-b',
  'p/ab',
  'p/é',
  'p/e',
  'p/z',
  'p/ÿ',
  'p/Ā',
  'p/€',
  'p/\uffff',
  'p/😀',
];

/** Every page of `prefix`, `limit` at a time. */
export async function listAll(repository: KvListRepository, prefix: string, limit: number): Promise<KvListItem[]> {
  const all: KvListItem[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await repository.list({ prefix, limit, ...(after !== undefined ? { after } : {}) });
    all.push(...page.items);
    if (page.nextAfter === undefined) return all;
    after = page.nextAfter;
  }
}

/** The listing's contract, run against PostgreSQL (the stack) and CockroachDB (when one is given). */
export function describeKvListRepositoryContract(databaseUrl: () => string): void {
  describe(KvListRepository.name, () => {
    let pool: Pool;
    let drop: () => Promise<void>;
    let repository: KvListRepository;

    beforeAll(async () => {
      ({ pool, drop } = await createTestSchema(databaseUrl(), 'kvlist'));
      await runMigrations(pool);
      repository = new KvListRepository(pool);
      const writes = new KvRepository(pool);
      await writes.applyBatch([
        ...[...AWKWARD_KEYS].reverse().map((key) => put(key, { key })),
        put('p', 'the prefix itself, without the slash'),
        put('o/before', 1),
        put('q/after', 2),
        put('p/deleted', 'gone'),
        del('p/deleted'),
        put('p/expired', 'gone too'),
        put('p/later', 'expires later'),
        put('p/num', 1.5),
      ]);
      // What a put with a TTL leaves (schema v6): one key already past its time, one not yet.
      await pool.query(`UPDATE kv_entries SET expires_at = now() - interval '1 second' WHERE key = 'p/expired'`);
      await pool.query(`UPDATE kv_entries SET expires_at = '2999-01-01T00:00:00Z' WHERE key = 'p/later'`);
    });
    afterAll(() => drop());

    describe('list', () => {
      it('should list the live keys of a prefix in UTF-8 byte order, without tombstones or expired keys', async () => {
        const page = await repository.list({ prefix: 'p/', limit: 100 });
        const expected = [...AWKWARD_KEYS, 'p/later', 'p/num'].sort(compareUtf8);
        expect(page.items.map((item) => item.key)).toEqual(expected);
        expect(page.nextAfter).toBeUndefined();
        expect(page.items.find((item) => item.key === 'p/é')).toEqual({
          key: 'p/é',
          valueJson: '{"key": "p/é"}',
          version: 1,
          updatedAt: expect.any(String),
        });
        expect(page.items.find((item) => item.key === 'p/later')).toMatchObject({
          expiresAt: '2999-01-01T00:00:00.000Z',
        });
        expect(page.items.find((item) => item.key === 'p/num')?.valueJson).toBe('1.5');
      });

      it('should page by key: every key exactly once, a cursor only while more may follow', async () => {
        const expected = [...AWKWARD_KEYS, 'p/later', 'p/num'].sort(compareUtf8);
        for (const limit of [1, 3, 5, expected.length - 1, expected.length]) {
          expect((await listAll(repository, 'p/', limit)).map((item) => item.key)).toEqual(expected);
        }
        const first = await repository.list({ prefix: 'p/', limit: 5 });
        expect(first.nextAfter).toBe(expected[4]);
        const next = await repository.list({ prefix: 'p/', limit: 5, after: expected[4] });
        expect(next.items.map((item) => item.key)).toEqual(expected.slice(5, 10));
      });

      it('should take a prefix as a byte range: not a pattern, and multi-byte prefixes bounded exactly', async () => {
        expect((await repository.list({ prefix: 'p', limit: 100 })).items.map((i) => i.key)).toContain('p');
        expect((await repository.list({ prefix: 'p/_', limit: 100 })).items).toEqual([]);
        expect((await repository.list({ prefix: 'p/%', limit: 100 })).items).toEqual([]);
        expect((await repository.list({ prefix: 'p/ÿ', limit: 100 })).items.map((i) => i.key)).toEqual(['p/ÿ']);
        expect((await repository.list({ prefix: 'p/\uffff', limit: 100 })).items.map((i) => i.key)).toEqual([
          'p/\uffff',
        ]);
        expect((await repository.list({ prefix: 'p/a', limit: 100 })).items.map((i) => i.key)).toEqual([
          'p/a',
          'p/a-b',
          'p/ab',
        ]);
      });

      it('should list every key for an empty prefix, and leave values out with keysOnly', async () => {
        const all = await listAll(repository, '', 4);
        expect(all.map((item) => item.key)).toEqual(all.map((item) => item.key).sort(compareUtf8));
        expect(all.map((item) => item.key)).toEqual(expect.arrayContaining(['o/before', 'p', 'q/after']));
        const keysOnly = await repository.list({ prefix: 'q/', limit: 10, keysOnly: true });
        expect(keysOnly.items).toEqual([
          { key: 'q/after', valueJson: null, version: 1, updatedAt: expect.any(String) },
        ]);
      });
    });
  });
}
