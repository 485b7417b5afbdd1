import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, readStack } from '@keyflow/testing';
import { runMigrations } from '../migrations/migration.service';
import { describeKvListRepositoryContract } from '../testing/kv-list-repository.contract';
import { prefixSuccessor } from './key-range.util';
import { selectLivePage } from './kv-list.sql';

describeKvListRepositoryContract(() => readStack().db.write);

describe('selectLivePage on PostgreSQL', () => {
  let pool: Pool;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    ({ pool, drop } = await createTestSchema(readStack().db.write, 'kvplan'));
    await runMigrations(pool);
    await pool.query(`
      INSERT INTO kv_entries (key, value, version, deleted, updated_at)
      SELECT 'k/' || lpad(i::TEXT, 6, '0'), to_jsonb(i), 1, i % 10 = 0, now() FROM generate_series(1, 20000) AS i`);
    await pool.query('ANALYZE kv_entries');
  });
  afterAll(() => drop());

  it('should order keys by UTF-8 bytes: the database collation is C.UTF-8 (code point order)', async () => {
    const { rows } = await pool.query<{ collate: string }>(
      'SELECT datcollate AS collate FROM pg_database WHERE datname = current_database()',
    );
    expect(rows[0]?.collate).toBe('C.UTF-8');
  });

  it('should scan the primary-key index in key order, without a sort, for every shape of the query', async () => {
    for (const after of [false, true]) {
      for (const below of [false, true]) {
        const values: unknown[] = ['k/0001'];
        if (after) values.push('k/000150');
        if (below) values.push(prefixSuccessor('k/0001'));
        values.push(101);
        const { rows } = await pool.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN ${selectLivePage({ after, below, keysOnly: false })}`,
          values,
        );
        const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
        expect(plan, plan).toMatch(/Index Scan using kv_entries_pkey/);
        expect(plan, plan).not.toMatch(/Sort|Seq Scan/);
      }
    }
  });
});
