import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from 'pg';
import { createTestSchema } from '@keyflow/testing';
import { describeKvListRepositoryContract } from './testing/kv-list-repository.contract';
import { describeBackupRepositoryContract } from './testing/backup-repository.contract';
import { describeKvRepositoryContract } from './testing/kv-repository.contract';
import { describeMigrationContract } from './testing/migration.contract';
import { describeTransactionContract } from './testing/transaction.contract';
import { describeUserRepositoryContract } from './testing/user-repository.contract';

/**
 * The database integration suite against a real CockroachDB: the same repository, user, transaction and migration
 * contracts the PostgreSQL specs run, because PostgreSQL is only the single-machine stand-in (DESIGN.md).
 * CockroachDB cannot run on the test machines, so this runs only when KEYFLOW_COCKROACH_URL points at one, e.g.
 *
 *   KEYFLOW_COCKROACH_URL='postgresql://root@localhost:26257/defaultdb?sslmode=disable' \
 *     npx vitest run --project integration libs/db/src/cockroach.integration-spec.ts
 *
 * (deploy/README.md shows how to start one with Docker). Each suite works in its own schema, dropped afterwards.
 */
const COCKROACH_URL = process.env.KEYFLOW_COCKROACH_URL;
const SKIP_REASON =
  'skipped: set KEYFLOW_COCKROACH_URL=postgresql://root@<host>:26257/defaultdb?sslmode=disable to run';

describe.skipIf(!COCKROACH_URL)(`CockroachDB (KEYFLOW_COCKROACH_URL) ${COCKROACH_URL ? '' : SKIP_REASON}`, () => {
  const url = () => COCKROACH_URL ?? '';

  describe('the server', () => {
    let pool: Pool;
    let drop: () => Promise<void>;
    beforeAll(async () => {
      ({ pool, drop } = await createTestSchema(url(), 'crdb'));
    });
    afterAll(() => drop());

    it('should be CockroachDB, not PostgreSQL', async () => {
      const { rows } = await pool.query<{ version: string }>('SELECT version() AS version');
      expect(rows[0]?.version).toMatch(/CockroachDB/);
    });
  });

  describeMigrationContract(url);
  describeKvRepositoryContract(url);
  describeKvListRepositoryContract(url);
  describeTransactionContract(url);
  describeUserRepositoryContract(url);
  describeBackupRepositoryContract(url);
});
