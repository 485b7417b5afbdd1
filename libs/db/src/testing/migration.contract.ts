import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema } from '@keyflow/testing';
import {
  assertSchemaCurrent,
  latestSchemaVersion,
  loadMigrations,
  runMigrations,
} from '../migrations/migration.service';

/** Lock-free migrations and the schema-version check, on PostgreSQL and CockroachDB alike. */
export function describeMigrationContract(databaseUrl: () => string): void {
  describe(runMigrations.name, () => {
    let pool: Pool;
    let drop: () => Promise<void>;

    beforeAll(async () => {
      ({ pool, drop } = await createTestSchema(databaseUrl(), 'mig'));
    });
    afterAll(() => drop());

    it('should refuse to start on an empty schema', async () => {
      await expect(assertSchemaCurrent(pool)).rejects.toThrow(/schema version is 0, this build expects/);
    });

    it('should apply every migration once, even when two migrators race', async () => {
      const [a, b] = await Promise.all([runMigrations(pool), runMigrations(pool)]);
      expect([...new Set([...(a ?? []), ...(b ?? [])])].sort()).toEqual(loadMigrations().map((m) => m.version));
      expect(await runMigrations(pool)).toEqual([]);
      await expect(assertSchemaCurrent(pool)).resolves.toBe(latestSchemaVersion());
    });

    it('should refuse a schema newer than this build', async () => {
      await pool.query(`INSERT INTO keyflow_schema_migrations (version, name) VALUES (9999, 'from_the_future')`);
      await expect(assertSchemaCurrent(pool)).rejects.toThrow(/this build is older than the database/);
      await expect(runMigrations(pool)).rejects.toThrow(/newer than this build knows/);
    });
  });
}
