import { afterEach, describe, expect, it } from 'vitest';
import { Client, type Pool } from 'pg';
import { createPool } from './pool.util';
import { watchProcessErrors } from '@keyflow/testing';

describe(createPool.name, () => {
  let pool: Pool | undefined;
  let watch: ReturnType<typeof watchProcessErrors> | undefined;

  afterEach(async () => {
    await pool?.end();
    watch?.stop();
  });

  // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
  it('should reject a query, not end the process, when the database cannot be reached', async () => {
    watch = watchProcessErrors();
    pool = createPool('postgres://keyflow@127.0.0.1:1/keyflow', { applicationName: 'pool-spec', max: 1 });

    await expect(pool.query('SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
    expect(watch.errors).toEqual([]);
  });

  it('should give every client an error listener of its own, for a connection cut while it is checked out', () => {
    pool = createPool('postgres://keyflow@127.0.0.1:1/keyflow', { applicationName: 'pool-spec' });
    const client = new Client();
    // What pg-pool emits for each new connection; while checked out, the pool's own listener is removed.
    pool.emit('connect', client);

    expect(() => client.emit('error', new Error('Connection terminated unexpectedly'))).not.toThrow();
  });
});
