import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema } from '@keyflow/testing';
import { withTransaction } from '../transaction.util';

/** 40001 retries under SERIALIZABLE contention, on PostgreSQL and CockroachDB alike. */
export function describeTransactionContract(databaseUrl: () => string): void {
  describe(withTransaction.name, () => {
    let pool: Pool;
    let drop: () => Promise<void>;

    beforeAll(async () => {
      ({ pool, drop } = await createTestSchema(databaseUrl(), 'tx'));
      await pool.query('CREATE TABLE counters (id INT PRIMARY KEY, n BIGINT NOT NULL)');
      await pool.query('INSERT INTO counters (id, n) VALUES (1, 0)');
    });
    afterAll(() => drop());

    it('should retry SQLSTATE 40001 from SERIALIZABLE contention until both transactions commit', async () => {
      // Both transactions read the counter before either writes: under SERIALIZABLE one of them must fail
      // with 40001 ("could not serialize access"), and the helper must run it again.
      let readers = 0;
      let release: () => void = () => undefined;
      const bothRead = new Promise<void>((resolve) => (release = resolve));
      const retries: string[] = [];
      const increment = () =>
        withTransaction(
          pool,
          async (client) => {
            const { rows } = await client.query<{ n: string }>('SELECT n FROM counters WHERE id = 1');
            if (++readers === 2) release();
            await Promise.race([bothRead, new Promise((r) => setTimeout(r, 2_000))]);
            await client.query('UPDATE counters SET n = $1 WHERE id = 1', [Number(rows[0]?.n) + 1]);
          },
          { onRetry: (_attempt, err) => retries.push((err as { code?: string }).code ?? '?') },
        );
      await Promise.all([increment(), increment()]);
      const { rows } = await pool.query<{ n: string }>('SELECT n FROM counters WHERE id = 1');
      expect(Number(rows[0]?.n)).toBe(2);
      expect(retries).toContain('40001');
    });

    it('should not retry other errors', async () => {
      let attempts = 0;
      await expect(
        withTransaction(pool, async (client) => {
          attempts++;
          await client.query('SELECT * FROM no_such_table');
        }),
      ).rejects.toMatchObject({ code: '42P01' });
      expect(attempts).toBe(1);
    });

    it('should roll back the failed attempt', async () => {
      await expect(
        withTransaction(pool, async (client) => {
          await client.query('UPDATE counters SET n = 100 WHERE id = 1');
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      const { rows } = await pool.query<{ n: string }>('SELECT n FROM counters WHERE id = 1');
      expect(Number(rows[0]?.n)).toBe(2);
    });
  });
}
