import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema } from '@keyflow/testing';
import {
  assertSchemaCurrent,
  KvRepository,
  latestSchemaVersion,
  OperationRepository,
  runMigrations,
  withTransaction,
  type WriteOp,
} from './index';

/**
 * The database integration suite against a real CockroachDB: the same repository, transaction and migration
 * assertions the PostgreSQL specs make, because PostgreSQL is only the single-machine stand-in (DESIGN.md).
 * CockroachDB cannot run on the test machines, so this runs only when KEYFLOW_COCKROACH_URL points at one, e.g.
 *
 *   KEYFLOW_COCKROACH_URL='postgresql://root@localhost:26257/defaultdb?sslmode=disable' \
 *     npx vitest run --project integration libs/db/src/cockroach.integration-spec.ts
 *
 * (deploy/README.md shows how to start one with Docker). Each block works in its own schema, dropped afterwards.
 */
const COCKROACH_URL = process.env.KEYFLOW_COCKROACH_URL;
const SKIP_REASON =
  'skipped: set KEYFLOW_COCKROACH_URL=postgresql://root@<host>:26257/defaultdb?sslmode=disable to run';

const at = '2026-11-23T10:00:00.000Z';
const put = (key: string, value: unknown, id = randomUUID()): WriteOp => ({
  id,
  key,
  type: 'put',
  valueJson: JSON.stringify(value),
  acceptedAt: at,
});
const del = (key: string, id = randomUUID()): WriteOp => ({ id, key, type: 'delete', acceptedAt: at });

describe.skipIf(!COCKROACH_URL)(`CockroachDB (KEYFLOW_COCKROACH_URL) ${COCKROACH_URL ? '' : SKIP_REASON}`, () => {
  const url = COCKROACH_URL ?? '';

  it('should be talking to CockroachDB, not PostgreSQL', async () => {
    const { pool, drop } = await createTestSchema(url, 'crdb');
    try {
      const { rows } = await pool.query<{ version: string }>('SELECT version() AS version');
      expect(rows[0]?.version).toMatch(/CockroachDB/);
    } finally {
      await drop();
    }
  });

  describe(runMigrations.name, () => {
    let pool: Pool;
    let drop: () => Promise<void>;
    beforeAll(async () => {
      ({ pool, drop } = await createTestSchema(url, 'crdbmig'));
    });
    afterAll(() => drop());

    it('should refuse to start on an empty schema', async () => {
      await expect(assertSchemaCurrent(pool)).rejects.toThrow(/schema version is 0, this build expects/);
    });

    it('should apply every migration once, even when two migrators race (no advisory locks)', async () => {
      const [a, b] = await Promise.all([runMigrations(pool), runMigrations(pool)]);
      expect([...new Set([...(a ?? []), ...(b ?? [])])]).toEqual([latestSchemaVersion()]);
      expect(await runMigrations(pool)).toEqual([]);
      await expect(assertSchemaCurrent(pool)).resolves.toBe(latestSchemaVersion());
    });

    it('should refuse a schema newer than this build', async () => {
      await pool.query(`INSERT INTO keyflow_schema_migrations (version, name) VALUES (9999, 'from_the_future')`);
      await expect(assertSchemaCurrent(pool)).rejects.toThrow(/this build is older than the database/);
      await expect(runMigrations(pool)).rejects.toThrow(/newer than this build knows/);
    });
  });

  describe(KvRepository.name, () => {
    let pool: Pool;
    let drop: () => Promise<void>;
    let repository: KvRepository;
    let operations: OperationRepository;
    beforeAll(async () => {
      ({ pool, drop } = await createTestSchema(url, 'crdbkv'));
      await runMigrations(pool);
      repository = new KvRepository(pool);
      operations = new OperationRepository(pool);
    });
    afterAll(() => drop());

    it('should raise the version by one per write, deletes included, and continue after a delete', async () => {
      const result = await repository.applyBatch([put('a', 1), put('a', { two: 2 }), del('a'), put('a', 'back')]);
      expect(result.ops.map((op) => op.version)).toEqual([1, 2, 3, 4]);
      expect(result.entries).toEqual([
        { key: 'a', valueJson: '"back"', version: 4, deleted: false, updatedAt: expect.any(String) },
      ]);
      await repository.applyBatch([del('a')]);
      expect(await repository.find('a', { strong: true })).toMatchObject({
        version: 5,
        deleted: true,
        valueJson: null,
      });
      expect((await repository.applyBatch([put('a', 6)])).ops[0]?.version).toBe(6);
    });

    it('should apply a batch in delivery order across keys', async () => {
      const result = await repository.applyBatch([put('x', 1), put('y', 1), put('x', 2), put('y', 2), put('x', 3)]);
      expect(result.ops.map((op) => `${op.key}@${op.version}`)).toEqual(['x@1', 'y@1', 'x@2', 'y@2', 'x@3']);
      expect(await repository.find('x')).toMatchObject({ valueJson: '3', version: 3 });
      expect(await repository.find('y')).toMatchObject({ valueJson: '2', version: 2 });
    });

    it('should take effect once when an operation is delivered again', async () => {
      const first = put('r', 'once');
      await repository.applyBatch([first]);
      const again = await repository.applyBatch([first, first, put('r', 'next')]);
      expect(again.ops.map((op) => [op.version, op.duplicate])).toEqual([
        [1, true],
        [1, true],
        [2, false],
      ]);
      expect(await repository.find('r', { strong: true })).toMatchObject({ valueJson: '"next"', version: 2 });
    });

    it('should record each applied operation, and never overwrite an outcome with a failure', async () => {
      const op = put('o', { deep: [1, { n: null }] });
      await repository.applyBatch([op]);
      expect(await operations.find(op.id)).toMatchObject({ id: op.id, key: 'o', status: 'applied', version: 1 });
      await operations.recordFailed(op, 'late');
      expect(await operations.find(op.id)).toMatchObject({ status: 'applied', version: 1 });
      const failed = put('f', 1);
      await operations.recordFailed(failed, 'poison');
      expect(await operations.find(failed.id)).toMatchObject({ status: 'failed', error: 'poison' });
    });

    it('should keep JSON values exactly, unicode and large numbers included', async () => {
      const value = { s: 'héllo 🙂 \u2028', n: 1.5e300, a: [true, false, null], e: {} };
      await repository.applyBatch([put('json', value)]);
      expect(JSON.parse((await repository.find('json'))?.valueJson ?? 'null')).toEqual(value);
    });

    it('should keep every write when several batches for one key race (40001 retried)', async () => {
      const batches = Array.from({ length: 4 }, (_, i) => [put('race', i)]);
      await Promise.all(batches.map((batch) => repository.applyBatch(batch)));
      expect(await repository.find('race', { strong: true })).toMatchObject({ version: 4 });
    });
  });

  describe(withTransaction.name, () => {
    let pool: Pool;
    let drop: () => Promise<void>;
    beforeAll(async () => {
      ({ pool, drop } = await createTestSchema(url, 'crdbtx'));
      await pool.query('CREATE TABLE counters (id INT PRIMARY KEY, n BIGINT NOT NULL)');
      await pool.query('INSERT INTO counters (id, n) VALUES (1, 0)');
    });
    afterAll(() => drop());

    it("should retry CockroachDB's restart-transaction errors (40001) until both transactions commit", async () => {
      let readers = 0;
      let release: () => void = () => undefined;
      const bothRead = new Promise<void>((resolve) => (release = resolve));
      const retries: string[] = [];
      const increment = (): Promise<void> =>
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
});
