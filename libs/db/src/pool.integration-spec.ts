import { readStack } from '@keyflow/testing';
import { Pool } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from './pool.util';
import { withTransaction } from './transaction.util';

describe(createPool.name, () => {
  const pool = createPool(readStack().db.write, { applicationName: 'keyflow-pool-spec', max: 2 });
  const admin = new Pool({ connectionString: readStack().db.write, max: 1 });
  afterAll(async () => {
    await pool.end();
    await admin.end();
  });

  it('should survive a checked-out connection being cut between two queries, and fail only that transaction', async () => {
    // HAProxy cuts sessions when it marks the primary down; a transaction may be between two queries then.
    const attempt = withTransaction(pool, async (client) => {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
      await new Promise((resolve) => setTimeout(resolve, 200)); // the socket closes while no query runs
      await client.query('SELECT 1');
    });
    await expect(attempt).rejects.toThrow();
    // The process is still here (an unhandled 'error' event would have failed this file), and the pool works.
    const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one');
    expect(rows[0]?.one).toBe(1);
  });
});
