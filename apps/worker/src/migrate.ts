import { connect } from 'amqplib';
import { createPool, latestSchemaVersion, runMigrations } from '@keyflow/db';
import { migrateShardQueues } from '@keyflow/messaging';

/**
 * Applies pending schema migrations: `DATABASE_URL=postgres://… node -r @swc-node/register apps/worker/src/migrate.ts`.
 * With `AMQP_URL` set (the stack sets it, with `KV_SHARDS`), it then re-creates the shard queues an older release
 * declared with `x-delivery-limit`, those that are empty and unused (`migrateShardQueues`); the others are kept and
 * listed, and the apps keep using them as they are. Run it before the apps start, as the stack does: a write
 * published while a queue is re-created would be routed nowhere.
 * Exits 0 when the schema is current.
 */
async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('migrate: DATABASE_URL is not set (postgres://user@host:port/database)');
    process.exit(2);
  }
  const pool = createPool(url, { applicationName: 'keyflow-migrate', max: 1 });
  try {
    const applied = await runMigrations(pool, (line) => console.log(`migrate: ${line}`));
    console.log(
      applied.length
        ? `migrate: applied ${applied.length} migration(s); schema is at version ${latestSchemaVersion()}`
        : `migrate: schema is current (version ${latestSchemaVersion()})`,
    );
  } finally {
    await pool.end();
  }
  await migrateQueues();
}

async function migrateQueues(): Promise<void> {
  const urls = (process.env.AMQP_URL ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (urls.length === 0) {
    console.log('migrate: AMQP_URL is not set; shard queues not checked');
    return;
  }
  const shards = Number(process.env.KV_SHARDS ?? 16);
  const replicas = Number(process.env.QUEUE_REPLICAS ?? 3);
  const connection = await connectToAny(urls);
  connection.on('error', () => undefined);
  try {
    const results = await migrateShardQueues(connection, {
      shards,
      replicas,
      log: (line) => console.log(`migrate: ${line}`),
    });
    const kept = results.filter((r) => r.outcome === 'kept').length;
    const recreated = results.filter((r) => r.outcome === 'recreated').length;
    console.log(
      kept > 0
        ? `migrate: ${kept} shard queue(s) still have x-delivery-limit (used as they are until a later run re-creates them)`
        : `migrate: shard queues are current${recreated ? ` (${recreated} re-created)` : ''}`,
    );
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function connectToAny(urls: string[]) {
  let last: unknown;
  for (const url of urls) {
    try {
      return await connect(url, { clientProperties: { connection_name: 'keyflow-migrate' } });
    } catch (err) {
      last = err;
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}

main().catch((err: unknown) => {
  console.error(`migrate: failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
