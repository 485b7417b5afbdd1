import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';

/**
 * A private schema on the stack's database for one test file: tests never see each other's rows.
 * `pool` has the schema first on its search_path; `drop()` removes everything.
 */
export async function createTestSchema(
  databaseUrl: string,
  prefix = 'it',
): Promise<{ schema: string; pool: Pool; drop: () => Promise<void> }> {
  const schema = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new Pool({ connectionString: databaseUrl, max: 1 });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const pool = new Pool({ connectionString: databaseUrl, max: 8, options: `-c search_path=${schema}` });
  pool.on('error', () => undefined);
  return {
    schema,
    pool,
    drop: async () => {
      await pool.end();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

/**
 * A pool on one of the stack's databases for a suite that kills servers: an idle client's error (its server was
 * killed under it) is dropped instead of crashing the test process; the next query just fails or reconnects.
 */
export function stackPool(connectionString: string, max: number): Pool {
  const pool = new Pool({ connectionString, max });
  pool.on('error', () => undefined);
  return pool;
}
